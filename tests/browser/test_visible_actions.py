"""Every visible action is readable and elder mode removes none.

On every page type (tests/browser/a11y.py SCREENS), in standard and elder mode: each visible
button and link has text contrast of at least 4.5:1 against the background actually behind it
(the first opaque background up its ancestors), and every action of standard mode is also
there, visible, in elder mode ("elder mode may simplify layout, never remove an action").
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import (  # noqa: F401 (fixtures)
    Screen,
    a11y_world_fixture,
    screen_params,
    visit_fixture,
)

pytestmark = pytest.mark.browser

MINIMUM = 4.5

# The visible actions of the page, each with a key (its data-action, else its target, else its
# text) and its text contrast against the opaque background behind it.
_ACTIONS = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => c[i] * c[3] + v * (1 - c[3]));
    return out;
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
      && parseFloat(s.opacity) > 0;
  };
  const out = [];
  for (const el of document.querySelectorAll('main a[href], main button, main input[type=submit]')) {
    if (!visible(el)) continue;
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim();
    if (!text) continue;
    const fg = parse(getComputedStyle(el).color);
    const bg = background(el);
    const blended = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const [a, b] = [lum(blended), lum(bg)].sort((x, y) => y - x);
    const href = el.getAttribute('href');
    const key = el.dataset.action || (href && !href.startsWith('#') ? href.split('?')[0] : null)
      || text.replace(/\\s+/g, ' ').slice(0, 60);
    out.push({key, text: text.slice(0, 40), ratio: (a + 0.05) / (b + 0.05),
              html: el.outerHTML.slice(0, 120)});
  }
  return out;
}"""


def _actions(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(_ACTIONS)


@pytest.mark.parametrize("screen", screen_params())
def test_actions_are_readable_and_elder_mode_removes_none(
    visit: Any, page: Any, screen: Screen
) -> None:
    visit(screen, lang="zh", elder=False)
    standard = _actions(page)
    visit(screen, lang="zh", elder=True)
    elder = _actions(page)

    unreadable = [
        f"{'elder' if mode else 'standard'}: {a['text']!r} {a['ratio']:.2f}:1 {a['html']}"
        for mode, actions in ((False, standard), (True, elder))
        for a in actions
        if a["ratio"] < MINIMUM
    ]
    assert not unreadable, f"{screen.name}: text contrast below {MINIMUM}:1\n" + "\n".join(
        unreadable
    )
    missing = sorted({a["key"] for a in standard} - {a["key"] for a in elder})
    assert not missing, f"{screen.name}: actions of standard mode missing in elder mode: {missing}"
