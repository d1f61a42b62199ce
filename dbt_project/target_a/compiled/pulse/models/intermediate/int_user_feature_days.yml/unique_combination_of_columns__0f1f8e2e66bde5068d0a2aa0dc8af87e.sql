
select tenant_id, user_id, feature_name, activity_date, count(*) as copies
from "pulse_dev_a"."intermediate"."int_user_feature_days"
group by tenant_id, user_id, feature_name, activity_date
having count(*) > 1
