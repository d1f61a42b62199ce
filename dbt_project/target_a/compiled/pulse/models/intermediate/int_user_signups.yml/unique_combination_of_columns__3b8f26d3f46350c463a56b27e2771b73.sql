
select tenant_id, user_id, count(*) as copies
from "pulse_dev_a"."intermediate"."int_user_signups"
group by tenant_id, user_id
having count(*) > 1
