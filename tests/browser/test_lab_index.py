"""`bash scripts/lab.sh` opens the tutorials' index: JupyterLab started with lab.sh's flags shows notebooks/README.md
rendered, with a working link to every tutorial.

The package's Lab runs with lab.sh's settings overrides (tests/browser/conftest.py `lab_settings`); this test
opens the URL lab.sh makes the default (``/lab/tree/README.md``) on a copy of notebooks/ and follows a link.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from tests.browser.conftest import ROOT, Lab

NOTEBOOKS = ROOT / "notebooks"
LAB_SH = ROOT / "scripts" / "lab.sh"


def test_lab_sh_opens_the_index_with_its_settings() -> None:
    script = LAB_SH.read_text()
    assert "--notebook-dir=notebooks" in script and "--LabApp.default_url=/lab/tree/README.md" in script
    assert '--LabApp.app_settings_dir="$PWD/scripts/lab-settings"' in script


def test_the_index_opens_rendered_with_every_tutorial_linked(lab: Lab, browser: Any, artifacts: Path) -> None:
    index = lab.root_dir / "index"
    index.mkdir(exist_ok=True)
    shutil.copy(NOTEBOOKS / "README.md", index / "README.md")
    tutorials = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for name in tutorials:
        shutil.copy(NOTEBOOKS / name, index / name)
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = ctx.new_page()
    try:
        pg.goto(lab.url("lab/tree/index/README.md"))
        rendered = pg.locator(".jp-RenderedMarkdown").first
        rendered.wait_for(timeout=60000)
        pg.screenshot(path=str(artifacts / "lab-index.png"))
        links = {a.inner_text().strip(): a.get_attribute("href") for a in rendered.locator("a").all()}
        for name in tutorials:
            stem = name.removesuffix(".ipynb")
            href = (links.get(stem) or "").split("?")[0]
            assert href.endswith("/" + name), f"{stem} is not linked in the rendered index: {links.get(stem)}"
        rendered.locator("a", has_text=re.compile(r"^02-connection$")).first.click()
        pg.wait_for_function(
            """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                return w && w.context && w.context.path === 'index/02-connection.ipynb'; }""", timeout=60000)
    finally:
        try:
            pg.evaluate("""async () => { const app = window.jupyterapp;
                for (const s of app.serviceManager.sessions.running()) await app.serviceManager.sessions.shutdown(s.id);
                await app.commands.execute('application:close-all'); }""")
            pg.wait_for_timeout(1500)
        finally:
            ctx.close()
            for saved in (lab.root_dir.parent / "workspaces").glob("*"):
                if saved.is_file():
                    saved.unlink()
