"""Every figure shares one light look, built once: plotly_white's layout, without the per-trace
defaults that made plotly copy and validate the whole template into each figure."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import plotly.io as pio
import pytest

import rnnviz.plots
from rnnviz.plots.classifier import probability_figure
from rnnviz.plots.style import LIGHT, base_layout


def test_light_template_is_plotly_whites_layout_without_trace_defaults() -> None:
    white = pio.templates["plotly_white"]
    assert LIGHT.layout.to_plotly_json() == white.layout.to_plotly_json()
    assert white.data.to_plotly_json()  # the part left out exists...
    assert not LIGHT.data.to_plotly_json()  # ...and is not copied into every figure


def test_figures_carry_the_light_template_and_the_asked_margin() -> None:
    fig = probability_figure({"sports": 0.9, "finance": 0.1}, "sports")
    assert (
        fig.layout.template.layout.plot_bgcolor
        == pio.templates["plotly_white"].layout.plot_bgcolor
    )
    assert not fig.layout.template.data.to_plotly_json()
    assert base_layout(top=40)["margin"]["t"] == 40


@pytest.mark.parametrize("module", [m.name for m in pkgutil.iter_modules(rnnviz.plots.__path__)])
def test_no_plot_module_names_a_full_template(module: str) -> None:
    text = Path(importlib.import_module(f"rnnviz.plots.{module}").__file__).read_text(
        encoding="utf-8"
    )
    if module != "style":
        assert "plotly_white" not in text, (
            f"rnnviz/plots/{module}.py names a full template; use style.LIGHT"
        )
