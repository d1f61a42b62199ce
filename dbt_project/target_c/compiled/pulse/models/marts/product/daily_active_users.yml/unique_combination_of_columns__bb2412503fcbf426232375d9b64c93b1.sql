
select tenant_id, activity_date, count(*) as copies
from "pulse_test_c"."marts"."daily_active_users"
group by tenant_id, activity_date
having count(*) > 1
