"""Escaping names (models, classes, conditions) for each output format, in one place.

A name comes from a user's adapter, data tree or ``--label``; written raw, a class called
``^^5cinput{/etc/hostname}`` became ``\\input{/etc/hostname}`` in ``tables.tex``, and ``<img onerror=...>`` ran in
a browser from ``report.md``.
"""

from __future__ import annotations

import html
import unicodedata

__all__ = ["latex", "markdown", "html_text"]

_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def _ascii(text: str) -> str:
    """Accents dropped (``é`` -> ``e``), other non-ASCII characters as ``?``: compiles with plain pdflatex."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return kept.encode("ascii", "replace").decode("ascii")


def latex(text: str) -> str:
    """LaTeX text: the ten special characters escaped, non-ASCII transliterated."""
    return "".join(_LATEX.get(ch, ch) for ch in _ascii(str(text)))


def markdown(text: str) -> str:
    """A Markdown table cell: HTML escaped (CommonMark passes raw HTML through), ``|`` and line breaks made
    harmless."""
    escaped = html.escape(str(text), quote=False).replace("|", r"\|")
    return " ".join(escaped.splitlines())


def html_text(text: str) -> str:
    """HTML text or attribute value."""
    return html.escape(str(text))
