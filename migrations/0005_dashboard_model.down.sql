-- Undoes 0005_dashboard_model.up.sql.
DROP TABLE IF EXISTS dashboard_tops;
DROP TABLE IF EXISTS dashboard_periods;
