"""Measurements taken inside the browser: computed sizes and WCAG contrast of what is shown."""

from __future__ import annotations

from typing import Any

# WCAG 2 relative luminance and contrast ratio, from computed colours. The background of an
# element is the first opaque background among it and its ancestors.
_CONTRAST_JS = """
() => {
  const parse = (c) => {
    const p = c.match(/[\\d.]+/g).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c.a > 0) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  };
  const results = [];
  for (const el of document.body.querySelectorAll("*")) {
    const text = [...el.childNodes]
      .filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => n.textContent.trim()).filter(Boolean).join(" ");
    if (!text || !shown(el) || el.closest(".skip-link")) continue;
    results.push({
      text: text.slice(0, 40),
      tag: el.tagName.toLowerCase(),
      ratio: ratio(parse(getComputedStyle(el).color), background(el)),
    });
  }
  return results;
}
"""

_SIZES_JS = """
(selector) => [...document.querySelectorAll(selector)]
  .filter((el) => el.getBoundingClientRect().width > 0)
  .map((el) => {
    const r = el.getBoundingClientRect();
    return {
      text: el.innerText.trim().slice(0, 40),
      fontSize: parseFloat(getComputedStyle(el).fontSize),
      width: r.width,
      height: r.height,
    };
  })
"""


def text_contrasts(page: Any) -> list[dict[str, Any]]:
    """Every visible piece of text with its contrast ratio against its background."""
    return page.evaluate(_CONTRAST_JS)


def sizes(page: Any, selector: str) -> list[dict[str, Any]]:
    """Computed font size and on-screen box of every visible element matching selector."""
    return page.evaluate(_SIZES_JS, selector)


def body_font_size(page: Any) -> float:
    return page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")


def body_contrast(page: Any) -> float:
    """Contrast of the body text colour against the body background."""
    return page.evaluate(
        """() => {
          const parse = (c) => c.match(/[\\d.]+/g).map(Number);
          const lum = (p) => {
            const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
            return 0.2126 * f(p[0]) + 0.7152 * f(p[1]) + 0.0722 * f(p[2]);
          };
          const s = getComputedStyle(document.body);
          const [a, b] = [lum(parse(s.color)), lum(parse(s.backgroundColor))].sort((x, y) => y - x);
          return (a + 0.05) / (b + 0.05);
        }"""
    )


def horizontal_overflow(page: Any) -> int:
    """How many pixels the page is wider than the viewport (0 when nothing scrolls sideways)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
