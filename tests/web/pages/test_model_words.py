"""Model names and descriptions in the page's language."""

import json
import re

from flux_remix.catalog import builtin_models
from flux_remix.web.model_words import ZH
from tests.conftest import API_KEY
from tests.web.helpers import sign_in


def test_every_builtin_model_has_words_in_both_languages():
    for spec in builtin_models():
        assert spec.description, f"{spec.id} has no English description"
        name, description = ZH[spec.id]
        assert name and re.search(r"[\u4e00-\u9fff]", description), spec.id


def page_models(html: str) -> dict[str, dict]:
    data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert data
    return {m["id"]: m for m in json.loads(data.group(1))["models"]}


def test_the_chinese_page_names_and_describes_models_in_chinese(app_server):
    img2img = "@cf/runwayml/stable-diffusion-v1-5-img2img"
    with sign_in(app_server, API_KEY) as (client, _):
        zh = client.get("/", headers={"Accept-Language": "zh-CN"}).text
        en = client.get("/", headers={"Accept-Language": "en"}).text
        api = client.get("/api/v1/models", headers={"Accept-Language": "zh-CN"}).json()
    assert "Stable Diffusion 1.5 图生图" in zh
    assert page_models(zh)[img2img]["description"] == ZH[img2img][1]
    assert page_models(en)[img2img]["name"] == "Stable Diffusion 1.5 img2img"
    assert page_models(en)[img2img]["description"].startswith("Redraws an input image")
    # the API reports the catalog's own words, whatever the caller's language
    api_model = next(m for m in api["models"] if m["id"] == img2img)
    assert api_model["name"] == "Stable Diffusion 1.5 img2img"
