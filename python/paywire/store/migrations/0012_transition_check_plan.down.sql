ALTER FUNCTION payments_check_transitions() RESET enable_nestloop;
