"""Analytics: KPIs over half-open windows, aggregated in SQL (see docs/analytics.md)."""
