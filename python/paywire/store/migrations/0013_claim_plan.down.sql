DROP FUNCTION payment_work_claim(text, integer, uuid[]);
