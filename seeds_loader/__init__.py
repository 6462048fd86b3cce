"""Raw-data side of retailrocket-kpi: warehouse settings, the RetailRocket-format generator and the raw loader."""
