"""The running server's own protections, as a class would meet them: XSRF on uploads, the upload
size cap (.streamlit/config.toml), and no tracebacks shown to students."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
import tomllib
from apppage import AppPage, existing
from appserver import ROOT, AppServer
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

UPLOAD_MB = tomllib.loads(
    (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
)["server"]["maxUploadSize"]


def test_upload_endpoint_refuses_a_request_without_the_xsrf_token(warm_server: AppServer) -> None:
    request = urllib.request.Request(
        f"{warm_server.url}/_stcore/upload_file/some-session/some-file",
        data=b"x" * 100, method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 403


def test_an_upload_over_the_configured_cap_is_refused_in_the_browser(
    app: AppPage, tmp_path
) -> None:
    app.open(existing("pages/predict.py"))
    app.choose("模型", "上传 .safetensors 模型…")
    uploader = app.page.get_by_test_id("stFileUploader").first
    big = tmp_path / "big.safetensors"
    with big.open("wb") as f:
        f.truncate((UPLOAD_MB + 1) * 2**20)  # sparse: the browser reads the local path itself
    uploader.locator("input[type=file]").set_input_files(str(big))
    expect(uploader).to_contain_text(re.compile(r"File must be .+ or smaller"))
    app.wait()
    # Nothing reached the page: it still waits for a file, with no error or exception.
    expect(app.page.get_by_test_id("stAlertContentError")).to_have_count(0)
    app.assert_healthy()
