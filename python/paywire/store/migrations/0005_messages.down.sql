DROP TABLE exceptions;
DROP TABLE answers;
DROP TABLE messages;
