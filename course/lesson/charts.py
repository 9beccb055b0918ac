"""Accessible charts: matplotlib figures rendered to PNG with alt text and a colour-blind-safe palette."""
from __future__ import annotations

import base64
import html
import io
import struct
import textwrap
from dataclasses import asdict, dataclass

from course.lesson import cache, markup

# Okabe & Ito (2008), the palette recommended for readers with colour-vision deficiencies.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "grey": "#6E6E6E",
}
MUTED = "#BBBBBB"
# Charts are drawn at twice the pixels of the size they are shown at, so they stay sharp on high-density
# screens (2 device pixels per CSS pixel); `Chart.html` shows them at their figure size, or narrower.
DENSITY = 2


@dataclass(frozen=True)
class Chart:
    """A rendered chart with the text a screen reader announces instead of the picture."""

    png: bytes
    alt: str
    source: str

    @property
    def size(self) -> tuple[int, int]:
        """The CSS pixels the chart is shown at, at most: its PNG's width and height over DENSITY."""
        width, height = struct.unpack(">II", self.png[16:24])  # the PNG's IHDR chunk
        return width // DENSITY, height // DENSITY

    def html(self) -> str:
        """An accessible <figure>: the image with alt text, shown at its figure size or the column's width,
        and its source as caption."""
        data = base64.b64encode(self.png).decode("ascii")
        width, height = self.size
        return (
            f'<figure class="allies-chart">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}" '
            f'width="{width}" height="{height}" style="max-width:100%;height:auto">'
            f'<figcaption>Source: {markup.moments(markup.cited(self.source))}</figcaption>'
            f"</figure>"
        )

    def _repr_html_(self) -> str:
        return self.html()


def _record(chart: Chart) -> dict:
    return {**asdict(chart), "png": base64.b64encode(chart.png).decode("ascii")}


def _chart(record: dict) -> Chart:
    return Chart(base64.b64decode(record["png"]), record["alt"], record["source"])


def cached_by(code_file: str):
    """Keep a chart-drawing function's Charts on disk, keyed by its inputs, `code_file` and this file (which
    decides how every chart is rendered): drawn once, a chart is reused by every later kernel, which then
    starts without importing matplotlib at all."""
    return cache.cached("charts", (code_file, __file__), dump=_record, load=_chart)


cached = cached_by(__file__)


# A chart is as wide as the module page's column (764 CSS px inside an explorer, at 100 px an inch), so that
# it fills the column instead of leaving a band beside it; narrower windows shrink it (`Chart.html`).
WIDTH_INCHES = 7.6
TITLE_CHARACTERS = 78  # a title line this long fits the figure's width at its font size; longer ones wrap


def _figure(title: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_INCHES, 3.6), dpi=100)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.88, bottom=0.12)  # fixed: faster than a layout engine
    ax = fig.add_subplot()
    wrapped = "\n".join(textwrap.fill(line, TITLE_CHARACTERS) for line in title.splitlines())
    ax.set_title(wrapped, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _render(fig) -> bytes:
    """PNG bytes at DENSITY times the figure's dpi, reduced to a 64-colour palette: a third of the size, so
    pages and widget state load faster. Fast octree quantization: half the time of Pillow's default for
    RGB, on a view drawn while a learner waits, and no larger."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi * DENSITY)
    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def headroom(ylim: float, values) -> float:
    """The axis top: `ylim`, raised so that a label printed over the tallest bar clears the title."""
    return max(ylim, max(values, default=0) * 1.12)


def _fmt(value: float, unit: str) -> str:
    return f"{value:g}{unit}"


@cached
def bars(labels, values, *, title: str, unit: str = "%", source: str,
         highlight: str | None = None, ylim: float | None = 100, ylabel: str = "") -> Chart:
    """Vertical bars, values printed on them; the bar named `highlight` stands out, the rest are muted."""
    fig, ax = _figure(title)
    colours = [PALETTE["blue"] if highlight in (None, label) else MUTED for label in labels]
    drawn = ax.bar(labels, values, color=colours, edgecolor="black", linewidth=0.6)
    ax.bar_label(drawn, labels=[_fmt(v, unit) for v in values], padding=2)
    if ylim:
        ax.set_ylim(0, headroom(ylim, values))
    ax.set_ylabel(ylabel or unit.strip() or "value")
    listed = "; ".join(f"{label}: {_fmt(value, unit)}" for label, value in zip(labels, values))
    focus = f" Highlighted: {highlight}." if highlight else ""
    return Chart(_render(fig), f"Bar chart, {title}. {listed}.{focus}", source)


@cached
def grouped_bars(groups, series: dict[str, list[float]], *, title: str, unit: str = "%",
                 source: str) -> Chart:
    """Bars for each group side by side, one colour per series, with a legend."""
    fig, ax = _figure(title)
    width = 0.8 / max(len(series), 1)
    colours = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"]]
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        drawn = ax.bar(xs, values, width, label=name, color=colours[i % len(colours)],
                       edgecolor="black", linewidth=0.6, hatch=["", "//", "..", "xx"][i % 4])
        ax.bar_label(drawn, labels=[_fmt(v, unit) for v in values], padding=2)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, headroom(100, [v for values in series.values() for v in values]))
    ax.legend(frameon=False, loc="upper right")
    parts = []
    for g, group in enumerate(groups):
        parts.append(f"{group}: " + ", ".join(f"{n} {_fmt(v[g], unit)}" for n, v in series.items()))
    return Chart(_render(fig), f"Grouped bar chart, {title}. " + "; ".join(parts) + ".", source)


@cached
def timeline(xs, ys, *, title: str, unit: str = "%", source: str, highlight=None,
             ylim: float | None = None) -> Chart:
    """A line over time with each observation marked; the point at `highlight` is labelled."""
    fig, ax = _figure(title)
    ax.plot(xs, ys, color=PALETTE["blue"], marker="o", linewidth=2)
    if highlight is not None and highlight in xs:
        y = ys[list(xs).index(highlight)]
        ax.plot([highlight], [y], marker="o", markersize=12, color=PALETTE["vermillion"],
                markeredgecolor="black")
        ax.annotate(f"{highlight}: {_fmt(y, unit)}", (highlight, y), textcoords="offset points",
                    xytext=(-10, 12), ha="right", fontsize=10)
    ax.set_ylim(0, ylim or max(ys) * 1.3)
    ax.set_ylabel(unit.strip() or "value")
    listed = ", ".join(f"{x}: {_fmt(y, unit)}" for x, y in zip(xs, ys))
    focus = f" Highlighted: {highlight}." if highlight is not None else ""
    return Chart(_render(fig), f"Line chart, {title}. {listed}.{focus}", source)
