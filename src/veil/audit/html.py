"""A self-contained HTML audit report: inline CSS, thumbnails as data: URIs, no external resource."""

from __future__ import annotations

from html import escape

from veil.audit.report import AuditReport, FileReport

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;word-break:break-all}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}code{font-size:12px;word-break:break-all}
.pass{color:#fff;background:#2e7d32}.fail{color:#fff;background:#c62828}.error{color:#fff;background:#6a1b9a}
.badge{padding:2px 8px;border-radius:3px;font-weight:600}
.warn{background:#fff3cd;padding:.6em;border:1px solid #e0c36b}
img{display:block;max-width:96px;max-height:96px}
"""


def render_html(report: AuditReport) -> str:
    summary = report.summary()
    verdict = "pass" if report.ok else "fail"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>veil audit: {verdict}</title><style>{CSS}</style></head><body>",
        f'<h1>veil audit <span class="badge {verdict}">{verdict.upper()}</span></h1>',
        f"<p>{escape(report.created)} &middot; veil {escape(str(report.veil_version))}</p>",
        '<p class="warn">Thumbnails show faces that were found visible or re-identified: treat this report '
        "as sensitive as the original media. An off-the-shelf recognizer is a lower bound on an attacker: "
        "passing this audit does not prove that nobody can be recognized.</p>",
        "<h2>Summary</h2>",
        _table(summary.items()),
        "<h2>Settings</h2>",
        _table(report.settings.items()),
        "<h2>Models</h2>",
        _rows(
            ["name", "package", "sha256", "license", "description"],
            [[m["name"], m["package"], f"<code>{escape(m['sha256'])}</code>", m["license"], m["description"]]
             for m in report.models],
            raw_columns={2},
        ),
    ]
    parts += [_file_section(f) for f in report.files]
    parts.append("</body></html>")
    return "\n".join(parts)


def _file_section(f: FileReport) -> str:
    verdict = f.verdict
    info = [
        ("sha256", f.sha256),
        ("kind", f.kind),
        ("size", f"{f.width}x{f.height}" if f.width else None),
        ("frames audited", f.frames_audited),
    ]
    if f.original:
        info += [("original", f.original["path"]), ("original sha256", f.original["sha256"])]
    if f.manifest:
        info += [("manifest input", f.manifest.get("input")), ("redacted regions", f.manifest.get("regions")),
                 ("matches manifest sha256", f.manifest.get("output_sha256_match"))]
    out = [
        f'<h2><span class="badge {verdict}">{verdict.upper()}</span> {escape(f.path)}</h2>',
        _table(info),
    ]
    if f.reasons:
        out.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in f.reasons) + "</ul>")
    if f.notes:
        out.append("<p>" + "<br>".join(escape(n) for n in f.notes) + "</p>")
    if f.residuals:
        out.append("<h3>Faces visible outside redacted regions</h3>")
        out.append(_rows(
            ["", "frame", "time (s)", "box", "score", "confirmation", "covered", "turned (deg)"],
            [[_img(f, r.id), r.frame, r.time, r.box, r.score, r.confirmation, r.coverage, r.rotation]
             for r in f.residuals],
            raw_columns={0},
        ))
    if f.attacks:
        out.append("<h3>Re-identification attack (dlib, same person below the match distance)</h3>")
        out.append(_rows(
            ["", "frame", "place", "box", "distance to original", "re-identified", "rank-1",
             "nearest gallery identity", "gallery distance", "gallery match"],
            [[_img(f, a.id), a.frame, a.place, a.box, a.distance_original, a.match_original, a.rank1,
              a.gallery_identity, a.gallery_distance, a.match_gallery] for a in f.attacks],
            raw_columns={0},
        ))
    return "\n".join(out)


def _img(f: FileReport, key: str) -> str:
    uri = f.thumbnails.get(key)
    # Only our own base64 JPEG data URIs are embedded, never a link.
    return f'<img alt="" src="{uri}">' if uri and uri.startswith("data:image/jpeg;base64,") else ""


def _table(items) -> str:
    return "<table>" + "".join(f"<tr><th>{escape(str(k))}</th><td>{_cell(v)}</td></tr>" for k, v in items) + "</table>"


def _rows(header: list[str], rows: list[list], raw_columns: set[int] = frozenset()) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"
    body = "".join(
        "<tr>" + "".join(f"<td>{v if i in raw_columns else _cell(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table>{head}{body}</table>"


def _cell(value) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value))
