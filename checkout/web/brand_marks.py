"""The brand marks of templates/_brands.html as template globals, each
rendered once per worker.

A mark is an inline SVG that depends only on its family and size, yet the
``brand_mark`` macro was called (and ``_brands.html`` imported again) for
every row of every checkout page. ``brand_mark(family, size)``, ``logo(family)``
and ``card_brands()`` here give the same output from the same macro, kept by
``(template, family, size)``: the template stays the one source of the marks.

What invalidates a kept mark: a new ``_brands.html``. Jinja gives a new
``Template`` object when it loads the file again (only with
``TEMPLATES_AUTO_RELOAD``, after the file changed), which is a new key; in
production templates never change while a worker runs.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Flask
from jinja2 import Environment, Template
from markupsafe import Markup

SOURCE = "_brands.html"


@lru_cache(maxsize=256)
def _rendered(template: Template, family: str | None, size: int) -> Markup:
    return Markup(template.module.brand_mark(family, size))


class BrandMarks:
    def __init__(self, env: Environment):
        self._env = env

    def _template(self) -> Template:
        return self._env.get_template(SOURCE)

    def brand_mark(self, family: str | None, size: int = 32) -> Markup:
        """``{{ brand_mark(family, size) }}``: the macro's SVG."""
        return _rendered(self._template(), family, size)

    def logo(self, family: str | None) -> Markup:
        """``{{ logo(family) }}``: sandbox/_logos.html's ``logo`` (a 32 px mark)."""
        return _rendered(self._template(), family, 32)

    def card_brands(self) -> list:
        """The macro file's ``CARD_BRANDS``: (key, family) of the accepted cards."""
        return self._template().module.CARD_BRANDS


def init_app(app: Flask) -> None:
    marks = BrandMarks(app.jinja_env)
    app.jinja_env.globals.update(brand_mark=marks.brand_mark, logo=marks.logo,
                                 card_brands=marks.card_brands)
