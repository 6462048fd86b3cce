"""Report exports of retailrocket-kpi: the funnel, cohort and CRM CSVs and the pipeline summary of one date."""

from exports.report import ExportError, ExportResult, GateRefusal, export_reports

__all__ = ["ExportError", "ExportResult", "GateRefusal", "export_reports"]
