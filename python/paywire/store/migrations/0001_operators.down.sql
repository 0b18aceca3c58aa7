DROP TABLE login_throttle;
DROP TABLE sessions;
DROP TABLE operators;
DROP FUNCTION refuse_change();
