-- Undoes 0006_dashboard_chart.up.sql.
ALTER TABLE dashboard_periods DROP COLUMN IF EXISTS chart_tickets, DROP COLUMN IF EXISTS chart_net;
