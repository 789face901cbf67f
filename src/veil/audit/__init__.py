"""Audit anonymized media: faces left visible (independent detector) and re-identification (dlib).

``audit_paths(...)`` returns an :class:`AuditReport`; ``write_reports(report, json_path, html_path)``
writes it; ``veil audit`` is :func:`veil.audit.cli.main`.
"""

from pathlib import Path

from veil.audit.core import AuditOptions, audit_paths
from veil.audit.html import render_html
from veil.audit.manifest import Manifest
from veil.audit.report import AttackResult, AuditReport, FileReport, ResidualFinding, write_text


def write_reports(report: AuditReport, json_path: Path | None = None, html_path: Path | None = None) -> None:
    """Write the JSON and/or HTML report (each atomically)."""
    if json_path is not None:
        write_text(Path(json_path), report.to_json())
    if html_path is not None:
        write_text(Path(html_path), render_html(report))


__all__ = [
    "AttackResult",
    "AuditOptions",
    "AuditReport",
    "FileReport",
    "Manifest",
    "ResidualFinding",
    "audit_paths",
    "render_html",
    "write_reports",
]
