"""Render a `Table` as GitHub Markdown or as a LaTeX booktabs tabular (no trailing newline)."""
from __future__ import annotations

from reports.tables.model import Table

_MD_ALIGN = {"l": ":--", "c": ":-:", "r": "--:"}
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_SYMBOLS = {"±": r"$\pm$", "–": "--", "†": r"$^\dagger$", "×": r"$\times$", "partial η²": r"$\eta^2_p$",
                  "η²": r"$\eta^2$", "Δ": r"$\Delta$", "≥": r"$\geq$", "≤": r"$\leq$", "<": r"$<$", ">": r"$>$"}


def to_markdown(table: Table) -> str:
    """Markdown: bold as `**x**`, `|` in text escaped, links left out (they point into the HTML page); notes follow."""
    def cell(text: str, bold: bool = False) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if bold and text else text

    lines = ["| " + " | ".join(cell(h) for h in table.header) + " |",
             "| " + " | ".join(_MD_ALIGN[a] for a in table.align) + " |"]
    lines += ["| " + " | ".join(cell(c.text, c.bold) for c in row) + " |" for row in table.rows]
    for note in table.notes:  # one paragraph each
        lines += ["", note]
    return "\n".join(lines)


def to_latex(table: Table, *, label: str | None = None) -> str:
    """A `table` float with a booktabs `tabular` (needs \\usepackage{booktabs}); bold via \\textbf."""
    def cell(text: str, bold: bool = False) -> str:
        text = latex_escape(text)
        return rf"\textbf{{{text}}}" if bold and text else text

    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{latex_escape(table.caption)}}}"]
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{''.join(table.align)}}}", r"\toprule",
              " & ".join(cell(h) for h in table.header) + r" \\", r"\midrule"]
    lines += [" & ".join(cell(c.text, c.bold) for c in row) + r" \\" for row in table.rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.notes:
        lines += [r"\par\smallskip", r"\footnotesize " + " ".join(latex_escape(note) for note in table.notes)]
    lines.append(r"\end{table}")
    return "\n".join(lines)


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map the few Unicode symbols the tables use to math mode."""
    out = "".join(_LATEX_SPECIALS.get(char, char) for char in text)
    for symbol, latex in _LATEX_SYMBOLS.items():
        out = out.replace(symbol, latex)
    return out
