"""The tumour-board summary as a PDF (reportlab), in Korean or English, with a CJK font embedded as a
subset (only the glyphs the page uses).

The font comes from the Debian package fonts-noto-cjk. Its files (.ttc) have PostScript (CFF) outlines,
which reportlab cannot embed; `scripts/board_font.py` converts the Korean face once to TrueType outlines
(BOARD_PDF_FONT, var/fonts/ by default). A missing or unusable font fails the request with the reason
(503 naming `pdf-font`); the PDF never falls back to a font without Hangul.
"""

import functools
import io
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import translation
from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import KeepTogether

from core.http import SystemUnavailable

FONT_SYSTEM = "pdf-font"
FONT_NAME = "CDSS-CJK"


class FontUnavailable(SystemUnavailable):
    def __init__(self, detail: str):
        super().__init__(FONT_SYSTEM, detail)


def font_name() -> str:
    """The registered CJK font's name; registered once per process (reportlab's public registerFont)."""
    return _register(str(settings.BOARD_PDF_FONT))


@functools.lru_cache(maxsize=4)
def _register(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise FontUnavailable(
            pgettext(
                "tumour board",
                "The CJK font for the PDF is missing (%(path)s). Make it from fonts-noto-cjk with "
                "scripts/board_font.py, or set BOARD_PDF_FONT to a TrueType font with Hangul.",
            )
            % {"path": path}
        )
    try:
        font = TTFont(FONT_NAME, path)  # subset embedding is reportlab's default for TrueType fonts
    except TTFError as exc:
        raise FontUnavailable(
            pgettext(
                "tumour board",
                "The font %(path)s cannot be embedded by reportlab (%(reason)s). fonts-noto-cjk ships PostScript "
                "outlines: convert it once with scripts/board_font.py.",
            )
            % {"path": path, "reason": exc}
        ) from exc
    if font.face.charToGlyph.get(ord("한")) in (None, 0):
        raise FontUnavailable(pgettext("tumour board", "The font %(path)s has no Hangul.") % {"path": path})
    pdfmetrics.registerFont(font)
    return FONT_NAME


def render(summary: dict, *, language: str, author: str, overlay_png: bytes | None = None) -> bytes:
    """The PDF of `summary` (board.selectors.summary_for) in `language` (ko or en), with the AI overlay image
    when given."""
    font = font_name()
    with translation.override(language):
        return _Page(summary, font, author, overlay_png).build()


class _Page:
    def __init__(self, summary: dict, font: str, author: str, overlay_png: bytes | None):
        self.summary, self.author, self.overlay_png = summary, author, overlay_png
        self.text = ParagraphStyle("text", fontName=font, fontSize=9.5, leading=13)
        self.small = ParagraphStyle("small", parent=self.text, fontSize=8, leading=10.5, textColor=colors.grey)
        self.heading = ParagraphStyle("heading", parent=self.text, fontSize=12, leading=16, spaceBefore=8, spaceAfter=3)
        self.title = ParagraphStyle("title", parent=self.text, fontSize=16, leading=21, spaceAfter=4)

    def build(self) -> bytes:
        patient = self.summary["patient"]
        name = patient_name(patient)
        buffer = io.BytesIO()
        document = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=16 * mm,
            rightMargin=16 * mm,
            topMargin=14 * mm,
            bottomMargin=14 * mm,
            title=f"{pgettext('tumour board', 'Tumour board summary')}: {name}",
            author=self.author,
            subject=patient["emr_uuid"],
            lang=translation.get_language(),
        )
        story = [
            Paragraph(escape(pgettext("tumour board", "Tumour board summary")), self.title),
            self._patient(patient, name),
            *self._imaging(),
            *self._trend(),
            *self._omics(),
            *self._emr(),
            *self._pending(),
            Spacer(1, 6 * mm),
            Paragraph(
                escape(
                    pgettext(
                        "tumour board",
                        "Decision support, not a diagnosis. AI results marked preliminary await radiology "
                        "sign-off. Generated %(when)s by %(user)s.",
                    )
                    % {"when": self.summary["generated_at"][:16].replace("T", " "), "user": self.author}
                ),
                self.small,
            ),
        ]
        document.build(story, onFirstPage=self._footer, onLaterPages=self._footer)
        return buffer.getvalue()

    def _footer(self, canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(self.text.fontName, 7.5)
        canvas.setFillColor(colors.grey)
        label = f"{patient_name(self.summary['patient'])} · {self.summary['patient']['mrn']} · {document.page}"
        canvas.drawRightString(A4[0] - 16 * mm, 8 * mm, label)
        canvas.restoreState()

    # --- sections ------------------------------------------------------------------------------------------
    def _p(self, value) -> Paragraph:
        return Paragraph(escape("" if value is None else str(value)), self.text)

    def _table(self, header: list[str], rows: list[list], widths: list[float]) -> Table:
        data = [[self._p(cell) for cell in header]] + [[self._p(cell) for cell in row] for row in rows]
        table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c5ccd6")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return table

    def _section(self, title: str, *body) -> list:
        return [KeepTogether([Paragraph(escape(title), self.heading), *body])]

    def _none(self, text: str | None = None) -> Paragraph:
        return Paragraph(escape(text or pgettext("tumour board", "None.")), self.small)

    def _patient(self, patient: dict, name: str) -> Table:
        rows = [
            [
                pgettext("tumour board", "Patient"),
                name,
                pgettext("tumour board", "Record number"),
                patient["mrn"] or "—",
            ],
            [
                pgettext("tumour board", "Born"),
                patient["birth_date"] or "—",
                pgettext("tumour board", "Sex"),
                patient["sex"] or "—",
            ],
        ]
        return self._table(rows[0], rows[1:], [28, 62, 32, 56])

    def _imaging(self) -> list:
        imaging = self.summary["imaging"]
        if imaging is None:
            return self._section(
                pgettext("tumour board", "Latest imaging"), self._none(pgettext("tumour board", "No imaging."))
            )
        study = imaging["study"]
        rows = [[study["study_date"] or "—", study["modality"], study["description"], study["number_of_series"]]]
        body = [
            self._table(
                [
                    pgettext("tumour board", "Study date"),
                    pgettext("tumour board", "Modality"),
                    pgettext("tumour board", "Description"),
                    pgettext("tumour board", "Series"),
                ],
                rows,
                [30, 22, 100, 26],
            )
        ]
        overlay = imaging["overlay"]
        if overlay:
            body.append(Spacer(1, 2 * mm))
            body.append(
                self._p(
                    pgettext("tumour board", "AI segmentation (%(status)s, %(model)s): %(summary)s")
                    % {
                        "status": status_label(overlay["status"]),
                        "model": overlay["model"],
                        "summary": overlay["summary"],
                    }
                )
            )
            if image := self._image(self.overlay_png):
                body.append(image)
        return self._section(pgettext("tumour board", "Latest imaging"), *body)

    @staticmethod
    def _image(png: bytes | None) -> Image | None:
        """The overlay at 70 mm wide; an image reportlab cannot read is left out rather than failing the PDF."""
        if not png:
            return None
        try:
            reader = ImageReader(io.BytesIO(png))
            width, height = reader.getSize()
        except Exception:  # PIL raises many kinds for a broken file
            return None
        return Image(io.BytesIO(png), width=70 * mm, height=70 * mm * height / max(width, 1))

    def _trend(self) -> list:
        trend = self.summary["volume_trend"]
        if not trend:
            return self._section(
                pgettext("tumour board", "Lesion volume over time"),
                self._none(pgettext("tumour board", "No approved segmentation yet.")),
            )
        labels = sorted({label for row in trend for label in row["volumes_ml"]})
        rows = [[row["date"], *(_ml(row["volumes_ml"].get(label)) for label in labels)] for row in trend]
        width = 148 / max(len(labels), 1)
        header = [pgettext("tumour board", "Date"), *(f"{label} (mL)" for label in labels)]
        return self._section(
            pgettext("tumour board", "Lesion volume over time"), self._table(header, rows, [30, *[width] * len(labels)])
        )

    def _omics(self) -> list:
        omics = self.summary["omics"]
        if omics is None:
            return self._section(
                pgettext("tumour board", "Omics risk"), self._none(pgettext("tumour board", "No omics analysis."))
            )
        rows = [
            [
                omics["risk_group"] or "—",
                _number(omics["risk_score"], 2),
                _number(omics["percentile"], 1),
                status_label(omics["status"]),
            ]
        ]
        header = [
            pgettext("tumour board", "Risk group"),
            pgettext("tumour board", "Risk score"),
            pgettext("tumour board", "Percentile"),
            pgettext("tumour board", "Status"),
        ]
        body = [self._table(header, rows, [45, 40, 40, 53])]
        if omics["disclaimer"]:
            body.append(Paragraph(escape(omics["disclaimer"]), self.small))
        return self._section(pgettext("tumour board", "Omics risk"), *body)

    def _emr(self) -> list:
        if self.summary["emr_error"]:
            warning = pgettext("tumour board", "The EMR could not be reached: %(reason)s") % {
                "reason": self.summary["emr_error"]
            }
            return self._section(pgettext("tumour board", "Problems and medications"), self._none(warning))
        sections = []
        for title, rows in (
            (pgettext("tumour board", "Problems"), self.summary["problems"]),
            (pgettext("tumour board", "Medications"), self.summary["medications"]),
        ):
            if not rows:
                sections += self._section(title, self._none())
                continue
            data = [[row["title"], row["diagnosis"], row["begdate"] or "—", row["enddate"] or "—"] for row in rows]
            header = [
                title,
                pgettext("tumour board", "Code"),
                pgettext("tumour board", "Since"),
                pgettext("tumour board", "Until"),
            ]
            sections += self._section(title, self._table(header, data, [88, 30, 30, 30]))
        return sections

    def _pending(self) -> list:
        pending = self.summary["pending_signoffs"]
        if not pending:
            return self._section(pgettext("tumour board", "Pending sign-offs"), self._none())
        rows = [
            [row["result_id"], row["task"], row["model"], row["created_at"][:16].replace("T", " ")] for row in pending
        ]
        header = [
            pgettext("tumour board", "Result"),
            pgettext("tumour board", "Analysis"),
            pgettext("tumour board", "Model"),
            pgettext("tumour board", "Since"),
        ]
        return self._section(pgettext("tumour board", "Pending sign-offs"), self._table(header, rows, [20, 38, 75, 45]))


def patient_name(patient: dict) -> str:
    return " ".join(part for part in (patient["family_name"], patient["given_name"]) if part) or patient["emr_uuid"]


def status_label(status: str) -> str:
    labels = {
        "PRELIMINARY": pgettext("tumour board", "preliminary"),
        "FINAL": pgettext("tumour board", "final"),
        "CANCELLED": pgettext("tumour board", "rejected"),
    }
    return labels.get(status, status)


def _number(value, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) and not isinstance(value, bool) else "—"


def _ml(value) -> str:
    return _number(value, 1)
