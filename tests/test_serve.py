"""The live reader page (python -m tfsigns.serve): POST /predict answers as predict --json does and
refuses bad bodies with a JSON 400 while the server goes on; the command refuses an unfinished model
or a busy port in one line; and in headless Chromium, with a fake camera playing SIGNS test photos,
the answer follows the video, the sentence grows and an uploaded photo is read. With a landmark run
the server finds the hand anywhere in the frame, answers its landmarks or "hand": false, and calibrates
from photos with a hand in each; in Chromium the page draws the hand moving across a cluttered scene,
reads its digit, and says "no hand" for the empty scene."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser import browser, chromium_or_skip, wait_for, y4m
from tests.conftest import REAL_DATA, REAL_DIGITS, copy_of, requires_digits, run_main, six_sign_run
from tfsigns.images.scenes import paste, scene
from tfsigns.portable.photos import image_from_bytes
from tfsigns.predict import main as predict_main
from tfsigns.reader import guard, serve
from tfsigns.reader.serve import MAX_BYTES, main, make_app, reading
from tfsigns.training.inference import Reader

DOCS = Path(__file__).resolve().parents[1] / "docs" / "figures"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(run: Path, data_dir: Path | None = None):
    """The page for `run` on a free loopback port, in a thread of this process; yields its address."""
    import uvicorn
    reader, port = Reader(run), free_port()
    config = uvicorn.Config(make_app(reader, data_dir, "127.0.0.1", port), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        reader.close()


def post(url: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    """(status, JSON) of a POST as the page sends it: an image to /predict, JSON to /calibrate."""
    kind = {"Content-Type": "application/json" if "/calibrate" in url else "image/png"}
    request = urllib.request.Request(url, data=body, method="POST", headers={**kind, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def calibrated_runs(run: Path) -> list[Path]:
    """The page's calibrations of `run` beside it, oldest first (named by the time they were made)."""
    return sorted(path for path in run.parent.iterdir()
                  if re.fullmatch(re.escape(run.name) + r"-calibrated-\d{8}-\d{6}(-\d+)?", path.name))


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_post_predict_answers_as_predict_json_and_refuses_bad_bodies(fake_run, tmp_path):
    photo = tmp_path / "hand.png"
    photo.write_bytes(png(np.random.default_rng(0).integers(0, 256, (90, 70, 3), dtype=np.uint8)))
    code, out, err = run_main(predict_main, [str(photo), "--model", str(fake_run), "--json"])
    assert code == 0, err
    expected = json.loads(out)
    with serving(fake_run) as url:
        with urllib.request.urlopen(url + "/", timeout=30) as page:
            html = page.read().decode()
        assert all(f'id="{name}"' in html for name in ("answer", "sentence", "clear", "upload", "camera"))
        status, answer = post(f"{url}/predict?name=hand.png", photo.read_bytes())
        assert status == 200 and answer["image"] == "hand.png" and answer["class"] == expected["class"]
        np.testing.assert_allclose(answer["probabilities"], expected["probabilities"], rtol=1e-5, atol=1e-6)
        for body, message in ((b"", "is empty"), (b"not an image at all", "not a readable image"),
                              (b"\xff" * (MAX_BYTES + 1), "too large")):
            status, refused = post(url + "/predict", body)
            assert status == 400 and list(refused) == ["error"] and message in refused["error"], refused
            assert "\n" not in refused["error"]
        status, again = post(f"{url}/predict?input=1", photo.read_bytes())  # the server went on
        assert status == 200 and again["input"].startswith("data:image/png;base64,")
        one = "data:image/png;base64," + base64.b64encode(photo.read_bytes()).decode()
        for photos, message in ((None, "calibration wants a JSON object"),
                                ({}, "the photos of 1 to 20 signs, got 0"),
                                ({"0": [one], "1": []}, "1 to 20 photos of a sign; sign '1' has 0"),
                                ({"0": [one] * 21}, "sign '0' has 21"),
                                ({"hello": [one]}, "sign 'hello': a pixel reader learns no new sign"),
                                ({"a/b": [one]}, "without slashes"),
                                ({"0": ["data:image/png;base64,??"]},
                                 "photo 1 of sign '0': not a base64 data URL")):
            body = b"{" if photos is None else json.dumps({"photos": photos}).encode()
            status, refused = post(url + "/calibrate", body)
            assert status == 400 and message in refused["error"], refused
        with urllib.request.urlopen(url + "/calibration", timeout=30) as state:
            assert json.loads(state.read())["status"] == "idle"


def test_the_page_answers_only_itself_as_another_site_or_a_rebound_name_would_ask(fake_run, tmp_path,
                                                                                   monkeypatch):
    """The attacks of a web page the user happens to visit: a cross-origin 'simple' POST (text/plain needs
    no preflight) to retrain the reader, the same with the image type, DNS rebinding (the attacker's name
    resolving to 127.0.0.1, so Host is the attacker's), a decompression bomb, a body of another type."""
    photo = png(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    one = "data:image/png;base64," + base64.b64encode(photo).decode()
    calibration = json.dumps({"photos": {str(sign): [one] for sign in range(6)}}).encode()
    bomb = io.BytesIO()
    Image.new("RGB", (9000, 9000)).save(bomb, format="PNG")  # 236 KB that decode to 243 MB
    given_back = []  # each time the server hands a photo's memory back (glibc's malloc_trim)
    monkeypatch.setattr(serve, "give_back_memory", lambda: given_back.append(True))
    with serving(fake_run) as url:
        port = url.rsplit(":", 1)[1]
        attacks = [
            ("/calibrate", calibration, {"Origin": "http://evil.example", "Content-Type": "text/plain"}, 403),
            ("/calibrate", calibration, {"Origin": "http://evil.example"}, 403),
            ("/predict", photo, {"Origin": "https://evil.example"}, 403),
            ("/predict", photo, {"Origin": "null"}, 403),
            ("/calibrate", calibration, {"Host": f"evil.example:{port}"}, 403),
            ("/predict", photo, {"Host": f"evil.example:{port}"}, 403),
            ("/calibrate", calibration, {"Content-Type": "text/plain"}, 400),
            ("/predict", photo, {"Content-Type": "text/plain"}, 400),
        ]
        for path, body, headers, code in attacks:
            status, refused = post(url + path, body, headers)
            assert status == code and list(refused) == ["error"], (headers, refused)
            assert "\n" not in refused["error"]
        rebound = urllib.request.Request(url + "/calibration", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(rebound, timeout=30)
        assert err.value.code == 403
        started = time.perf_counter()
        status, refused = post(url + "/predict", bomb.getvalue())
        assert status == 400 and "too many pixels (9000x9000" in refused["error"]
        assert time.perf_counter() - started < 5  # refused from its header, not decoded
        status, answer = post(url + "/predict", photo, {"Origin": url})  # the page's own origin
        assert status == 200 and answer["class"] in range(6)
        given_back.clear()
        large = io.BytesIO()  # 15 megapixels, under the cap: 45 MB decoded, handed back to the system after
        stripes = (np.indices((3000, 5000)).sum(0) % 256).astype(np.uint8)
        Image.fromarray(stripes).convert("RGB").save(large, "PNG")
        assert post(url + "/predict", large.getvalue())[0] == 200 and given_back == [True]
        assert post(url + "/predict", photo)[0] == 200 and given_back == [True]  # small: nothing to hand back
        with urllib.request.urlopen(url + "/calibration", timeout=30) as state:
            assert json.loads(state.read())["status"] == "idle"  # nothing was retrained
    assert not [path for path in fake_run.parent.iterdir() if "calibrated" in path.name]


def test_errors_leave_out_the_servers_folders_and_calibrations_start_from_the_original(fake_run, tmp_path):
    from tfsigns.reader.serve import KEEP_CALIBRATED, Calibration, original_run, public
    said = public("--out /home/me/runs/reader-calibrated-1 exists: choose a new folder")
    assert said == "--out reader-calibrated-1 exists: choose a new folder"
    calibrated = copy_of(fake_run, tmp_path)
    metrics = json.loads((calibrated / "metrics.json").read_text())
    (calibrated / "metrics.json").write_text(json.dumps({**metrics, "calibrated_from": str(fake_run)}))
    assert original_run(calibrated) == fake_run and original_run(fake_run) == fake_run
    base = copy_of(fake_run, tmp_path)
    made = []
    for k in range(KEEP_CALIBRATED + 2):  # page calibrations by time, and one a user named
        made.append(base.parent / f"run-calibrated-20261205-1200{k:02d}")
        shutil.copytree(base, made[-1])
    shutil.copytree(base, base.parent / "run-calibrated-mine")
    reader = Reader(base)
    try:
        Calibration(reader, None)._prune(made[-1])
    finally:
        reader.close()
    left = sorted(path.name for path in base.parent.iterdir() if "calibrated" in path.name)
    assert left == [path.name for path in made[-KEEP_CALIBRATED:]] + ["run-calibrated-mine"]


def test_the_input_shown_is_what_the_network_takes_framed_for_a_framed_run(fake_run, tmp_path):
    """A run trained on framed photos (--framing hand) sees each photo framed: the page shows that."""
    from tfsigns.portable.framing import frame_columns
    photo = png(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    reader = Reader(fake_run)
    try:
        plain = reading(reader, photo, "plain", with_input=True)["input"]
        reader.config = dataclasses.replace(reader.config, framing="hand")
        framed = reading(reader, photo, "framed", with_input=True)["input"]
    finally:
        reader.close()
    column = image_from_bytes(photo)
    for url, expected in ((plain, column), (framed, frame_columns(column[:, None], (64, 64, 3))[:, 0])):
        shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2])))) / 255
        np.testing.assert_allclose(shown.reshape(-1), expected, atol=1 / 255)
    assert plain != framed


def test_the_command_refuses_an_unfinished_model_or_a_busy_port_in_one_line(fake_run, tmp_path):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    code, _, err = run_main(main, ["--model", str(unfinished)])
    assert code == 2 and err.count("\n") == 1 and err.startswith("tfsigns.serve: error: --model"), err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run_main(main, ["--model", str(fake_run), "--port", str(port)])
    assert code == 2 and err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err, err
    code, _, err = run_main(main, ["--model", str(fake_run), "--port", "70000"])
    assert code == 2 and "--port must be from 1 to 65535" in err


# ------------------------------------------------------------------ a real browser


# the page's answer, and whether its overlay over the video holds a drawn pixel (the hand's landmarks and
# bones), at one moment
SEEN = """const c = document.getElementById("hand");
return [document.getElementById("answer").textContent,
        c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some(v => v > 0)];"""


def test_the_page_reads_a_signing_hand_from_the_camera_in_chromium(real_run, signs, tmp_path):
    chromium, driver = chromium_or_skip()
    from selenium.webdriver.common.by import By
    _, _, X_test, Y_test, _ = signs
    reader = Reader(real_run)
    probabilities = reader.probabilities(X_test)
    reader.close()
    labels = Y_test.argmax(axis=0)

    def clearest(sign: int) -> int:  # the test photo of `sign` the run reads most surely
        return max(np.flatnonzero(labels == sign), key=lambda i: probabilities[i, sign])
    # the three signs it reads most surely, whatever this CPU's training gave: above the page's bar (0.7)
    a, b, c = sorted(range(6), key=lambda sign: -probabilities[clearest(sign), sign])[:3]
    five, two, three = (clearest(sign) for sign in (a, b, c))
    assert probabilities[two, b] > 0.8, probabilities[two]
    frame = lambda i: np.asarray(Image.fromarray(  # noqa: E731
        (X_test[:, i].reshape(64, 64, 3) * 255).round().astype(np.uint8)).resize((192, 192), Image.BICUBIC))
    # 4 s of a 5, 4 s of a 2, then 3 s of the two swapping every frame: never steady, so "not sure"
    y4m([frame(five)] * 40 + [frame(two)] * 40 + [frame(five), frame(two)] * 15, tmp_path / "signing.y4m")
    upload = tmp_path / f"sign-{c}.png"
    upload.write_bytes(png(frame(three)))
    with serving(real_run, REAL_DATA) as url:
        page = browser(chromium, driver, tmp_path / "signing.y4m")
        try:
            page.get(url + "/")
            text = lambda element: page.find_element(By.ID, element).text  # noqa: E731
            wait_for(lambda: text("answer").startswith(str(a)), 60, f"the page to read the {a}")
            wait_for(lambda: text("answer").startswith(str(b)), 60, f"the page to read the {b} after the {a}")
            wait_for(lambda: f"{a}{b}" in text("sentence").replace(" ", ""), 30, "the sentence to grow")
            wait_for(lambda: text("answer") == "not sure", 30, "the page to be unsure of a flickering hand")
            rate = float(text("rate"))
            assert rate > 0, f"{rate} readings a second"  # how many: bench/page_speed.py
            assert page.find_element(By.ID, "input").is_displayed() and not page.execute_script(SEEN)[1]
            page.find_element(By.ID, "upload").send_keys(str(upload))
            wait_for(lambda: text("uploaded").startswith(f"sign-{c}.png: {c}"), 30, f"the upload read as {c}")
            shot = tmp_path / "reader-page.png"
            page.save_screenshot(str(shot))
            if os.environ.get("TFSIGNS_SCREENSHOT"):  # refresh the README's picture
                shutil.copy(shot, DOCS / "reader-page.png")
            before = len(text("sentence"))
            page.find_element(By.ID, "clear").click()
            assert len(text("sentence")) <= 1 < before  # cleared (the camera may add its steady digit again)
            print(f"readings a second in the browser: {rate}")
            for sign in range(6):  # calibration: two photos of each sign from the camera, then fine-tune
                page.find_element(By.ID, "sign").clear()
                page.find_element(By.ID, "sign").send_keys(str(sign))
                page.find_element(By.ID, "capture").click()
                page.find_element(By.ID, "capture").click()
            assert text("captured") == "0: 2, 1: 2, 2: 2, 3: 2, 4: 2, 5: 2"
            page.find_element(By.ID, "finetune").click()
            wait_for(lambda: f"reading with {real_run.name}-calibrated-" in text("calibration"), 120,
                     "the fine-tuned run")
            new = calibrated_runs(real_run)[-1]
            assert text("calibration").endswith(f"reading with {new.name}") and str(new.parent) not in text(
                "calibration")
            # trained on one photo of each sign, measured on the other six, which it did not see
            assert json.loads((new / "metrics.json").read_text())["calibration_photos"] == 6
            assert "the 6 photos held out" in text("calibration"), text("calibration")
            with urllib.request.urlopen(url + "/calibration", timeout=30) as state:
                assert json.loads(state.read())["run"] == new.name  # the page reads with the new run
        finally:
            page.quit()


# ------------------------------------------------------------------ a landmark run


def finished(url: str) -> dict | None:
    """GET /calibration's state once the calibration has ended, else None (for wait_for)."""
    with urllib.request.urlopen(url + "/calibration", timeout=30) as response:
        state = json.loads(response.read())
    return state if state["status"] != "running" else None


@pytest.fixture(scope="module")
def landmark_run(tmp_path_factory):
    """A landmark run (--arch landmarks, 100 epochs: 2 s here with SIGNS' features cached, about 25 s
    without), which reads SIGNS test photos pasted into cluttered scenes surely (p above 0.9)."""
    from tfsigns.hands.files import ModelError, model_paths
    from tfsigns.train import main as train_main
    if not (REAL_DATA / "train_signs.h5").is_file():
        pytest.skip(f"real SIGNS data not found in {REAL_DATA}")
    try:
        model_paths("full", fetch=False)
    except ModelError as err:
        pytest.skip(f"MediaPipe's hand models are not here (set TFSIGNS_MODELS): {err}")
    out = tmp_path_factory.mktemp("landmarks") / "run"
    code, _, err = run_main(train_main, ["--data-dir", str(REAL_DATA), "--arch", "landmarks",
                                         "--epochs", "100", "--quiet", "--out", str(out)])
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def test_photos():
    """SIGNS test photos, uint8 (m, 64, 64, 3), and their signs (m,)."""
    from tfsigns.images.signs import load_dataset
    _, _, images, labels, _ = load_dataset(REAL_DATA)
    return images, labels.reshape(-1)


def data_url(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png(pixels)).decode()


def test_a_landmark_run_answers_the_hand_its_landmarks_or_no_hand_and_calibrates(landmark_run, test_photos,
                                                                                 tmp_path):
    images, labels = test_photos
    first = [int(np.flatnonzero(labels == sign)[0]) for sign in range(6)]
    pasted = [paste(images[i], seed=10 + sign) for sign, i in enumerate(first)]
    photo = tmp_path / "in-a-room.png"
    photo.write_bytes(png(pasted[3][0]))
    code, out, err = run_main(predict_main, [str(photo), "--model", str(landmark_run), "--json"])
    assert code == 0, err
    expected = json.loads(out)
    assert expected["hand"] and expected["class"] == 3
    with serving(landmark_run, REAL_DATA) as url:
        status, answer = post(f"{url}/predict?name=in-a-room.png&input=1", photo.read_bytes())
        assert status == 200 and answer["hand"] and answer["class"] == 3 and "input" not in answer, answer
        np.testing.assert_allclose(answer["probabilities"], expected["probabilities"], rtol=1e-5, atol=1e-6)
        landmarks = np.array(answer["landmarks"])
        x0, y0, x1, y1 = pasted[3][1]
        assert landmarks.shape == (21, 2) and answer["ms"] > 0
        # in [0, 1] of the frame, x then y: the hand lies within the pasted photo
        assert (x0 - 5) / 640 <= landmarks[:, 0].min() and landmarks[:, 0].max() <= (x1 + 5) / 640
        assert (y0 - 5) / 480 <= landmarks[:, 1].min() and landmarks[:, 1].max() <= (y1 + 5) / 480
        for track in (0, 1):
            status, empty = post(f"{url}/predict?name=room&track={track}", png(scene(4)))
            assert status == 200 and empty == {"image": "room", "class": None, "sign": None, "hand": False,
                                               "probabilities": None, "landmarks": None, "ms": empty["ms"]}
        status, refused = post(url + "/predict", b"not an image at all")
        assert status == 400 and list(refused) == ["error"] and "not a readable image" in refused["error"]
        assert "\n" not in refused["error"]
        photos = {str(sign): [data_url(frame)] for sign, (frame, _) in enumerate(pasted)}
        status, refused = post(url + "/calibrate", json.dumps({"photos": {**photos, "2": [
            photos["2"][0], data_url(scene(5))]}}).encode())
        assert status == 400, refused
        assert refused["error"].startswith("photo 2 of sign '2': the hand model sees no hand")
        assert "\n" not in refused["error"]
        second = [int(np.flatnonzero(labels == sign)[1]) for sign in range(6)]  # another photo of each
        held = {sign: [*found, data_url(paste(images[second[int(sign)]], seed=20 + int(sign))[0])]
                for sign, found in photos.items()}
        status, state = post(url + "/calibrate", json.dumps({"photos": held}).encode())
        assert status == 202 and state["status"] == "running", state

        state = wait_for(lambda: finished(url), 120, "the calibration to finish")
        (new,) = calibrated_runs(landmark_run)
        assert state["status"] == "done" and state["run"] == new.name, state
        metrics = json.loads((new / "metrics.json").read_text())
        assert metrics["input"]["features"] and metrics["calibration_photos"] == 6  # the other 6 held out
        held_out = re.search(r"the 6 photos held out (\S+) \(before: (\S+)\)", state["message"])
        assert held_out and all(0 <= float(value) <= 1 for value in held_out.groups()), state["message"]
        status, answer = post(f"{url}/predict", photo.read_bytes())  # read with the new run
        assert status == 200 and answer["class"] == 3 and len(answer["landmarks"]) == 21


def test_the_page_draws_a_hand_moving_across_a_room_and_says_no_hand_in_chromium(landmark_run, test_photos,
                                                                                  tmp_path, monkeypatch):
    chromium, driver = chromium_or_skip()
    from selenium.webdriver.common.by import By
    images, labels = test_photos
    # 4 s of a 3 moving from the left edge to the right across a cluttered room, then 3 s of the empty room
    room = 7
    path = [(t, 0.2 + 0.6 * t) for t in np.linspace(0, 1, 40)]
    reader = Reader(landmark_run)

    def read_right_all_along(i: int) -> bool:  # in-process, as the server will track it
        probabilities, _ = reader.read([paste(images[i], room, at=at)[0] for at in path[::4]], track=True)
        return bool((np.nan_to_num(probabilities).max(axis=1) > 0.9).all() and
                    (probabilities.argmax(axis=1) == 3).all())
    try:
        three = next(i for i in np.flatnonzero(labels == 3) if read_right_all_along(i))
    finally:
        reader.close()
    y4m([paste(images[three], room, at=at)[0] for at in path] + [scene(room)] * 30, tmp_path / "room.y4m")
    sent, read = [], serve.Calibration.read  # what reaches the server's reader: none of the camera's frames
    monkeypatch.setattr(serve.Calibration, "read", lambda self, *args: sent.append(args) or read(self, *args))
    with serving(landmark_run) as url:
        page = browser(chromium, driver, tmp_path / "room.y4m")
        try:
            page.get(url + "/")
            seen = lambda: page.execute_script(SEEN)  # noqa: E731
            wait_for(lambda: seen() == ["3", True], 60, "the page to read the moving 3 and draw its hand")
            rate, ms = (float(page.find_element(By.ID, name).text) for name in ("rate", "ms"))
            shot = tmp_path / "reader-page-landmarks.png"
            page.save_screenshot(str(shot))
            if os.environ.get("TFSIGNS_SCREENSHOT"):  # the landmark reader's picture for the docs
                shutil.copy(shot, DOCS / "reader-page-landmarks.png")
            wait_for(lambda: seen() == ["no hand", False], 30, "the page to say no hand for the empty room")
            assert "3" in page.find_element(By.ID, "sentence").text
            assert not page.find_element(By.ID, "input").is_displayed()  # a landmark run has no 64x64 input
            print(f"landmark run in Chromium: {rate} readings a second, {ms:.0f} ms a frame in the browser")
            assert rate >= 2 and ms > 0, (rate, ms)
            assert not sent, f"{len(sent)} frames went to the server"
            # the page is cross-origin isolated (COOP, COEP), so LiteRT.js runs its threaded build
            assert page.execute_script("return crossOriginIsolated") is True
            build = page.execute_async_script("window.tfsigns.ready.then(r => arguments[0](r.build))")
            assert build == "threads", build
            with urllib.request.urlopen(url + "/web/reader.json", timeout=30) as served:
                contract = json.loads(served.read())
            assert contract["input"]["kind"] == "landmarks" and contract["hand_models"]
            for missing in ("/web/nothing.js", "/web/../metrics.json", "/web/%2e%2e/metrics.json"):
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(url + missing, timeout=30)
                assert refused.value.code == 404, missing
        finally:
            page.quit()


def test_slow_bodies_do_not_lock_everyone_else_out(fake_run, monkeypatch):
    """Eight clients on loopback each start a POST /predict of 1 MB and send a byte now and then (uvicorn sets
    no body timeout): before, four of them held every in-flight slot and everyone else got 503 until their
    sockets closed. A request counts as in flight once its body has arrived, and a body that does not
    arrive within guard.BODY_SECONDS is answered 408 and its connection closed."""
    monkeypatch.setattr(guard, "BODY_SECONDS", 4.0)
    photo = png(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    with serving(fake_run) as url:
        port = int(url.rsplit(":", 1)[1])
        slow = []
        for _ in range(8):
            client = socket.create_connection(("127.0.0.1", port), timeout=30)
            client.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
                           "Content-Length: 1000000\r\n\r\nx".encode())
            slow.append(client)
        time.sleep(0.5)
        for _ in range(3):  # everyone else is read at once, while the slow bodies trickle in
            started = time.perf_counter()
            status, answer = post(url + "/predict", photo)
            assert status == 200 and answer["class"] in range(6), answer
            assert time.perf_counter() - started < 3
            for client in slow:
                client.sendall(b"x")
            time.sleep(0.5)
        answers = []
        for client in slow:  # the body timeout ends them: 408, and the connection closed
            received = b""
            while chunk := client.recv(4096):
                received += chunk
            client.close()
            answers.append(received.split(b"\r\n", 1)[0])
        assert answers == [b"HTTP/1.1 408 Request Timeout"] * 8, answers
        assert post(url + "/predict", photo)[0] == 200


# ------------------------------------------------------------------ teaching a sign through the page


@pytest.fixture(scope="module")
def six_signs(tmp_path_factory):
    """The six-sign reader (tfsigns/reader_signs.json: SIGNS alone, and "a sign I don't know"), 100 epochs."""
    if requires_digits.args[0]:
        pytest.skip(requires_digits.kwargs["reason"])
    return six_sign_run(tmp_path_factory)


def test_the_page_teaches_a_sign_it_did_not_know_and_then_reads_it_in_chromium(six_signs, tmp_path):
    """The fake camera plays another student's 7 held in a cluttered room, moving a little: the six-sign
    reader says "unknown sign"; the page is told the name "seven", takes photos of the held sign, the server
    learns it, and the page reads "seven" and writes it in the sentence. Names a page could send that no
    folder could hold (a slash, 300 characters) are refused with a JSON 400."""
    run = copy_of(six_signs, tmp_path)  # the server teaches new runs beside it
    chromium, driver = chromium_or_skip()
    from selenium.webdriver.common.by import By

    from tfsigns.images.digits import digit_photos, find_digits
    from tfsigns.portable.photos import load_frame
    paths, digits = digit_photos(find_digits(REAL_DIGITS))
    room, reader = 3, Reader(run)
    path = [(0.45 + 0.05 * np.sin(t), 0.5 + 0.04 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 30)]

    def frames_of(photo: Path) -> list[np.ndarray]:
        return [paste(load_frame(photo), room, at=at)[0] for at in path]

    def unknown_all_along(photo: Path) -> bool:  # in-process, as the server will read it
        probabilities, _ = reader.read(frames_of(photo)[::5], track=True)
        return all(reader.signs.read(row) is None for row in probabilities if not np.isnan(row).any()) and \
            not np.isnan(probabilities).any()
    try:
        seven = next(p for p, d in zip(paths, digits, strict=True) if d == 7 and unknown_all_along(p))
    finally:
        reader.close()
    y4m(frames_of(seven), tmp_path / "seven.y4m")
    with serving(run) as url:
        for name, words in (("a/b", "without slashes"), ("x" * 300, "1 to 40 characters, got 300")):
            status, refused = post(url + "/calibrate", json.dumps({"photos": {name: ["data:,"]}}).encode())
            assert status == 400 and words in refused["error"] and "\n" not in refused["error"], refused
        page = browser(chromium, driver, tmp_path / "seven.y4m")
        try:
            page.get(url + "/")
            text = lambda element: page.find_element(By.ID, element).text  # noqa: E731
            wait_for(lambda: text("answer") == "unknown sign", 60, "the page to say it does not know the 7")
            assert text("sentence") == ""  # an unknown sign is not written
            seen = []  # what the page answered after teaching, to say so if it never reads the sign
            for _ in range(2):  # as a user would: taught again where it does not read the sign yet
                for _ in range(3):  # and again where the page saw too few frames with a hand
                    page.find_element(By.ID, "sign").clear()
                    page.find_element(By.ID, "sign").send_keys("seven")
                    page.find_element(By.ID, "teach").click()
                    said = wait_for(lambda: next((text("calibration") for words in ("reading with", "failed",
                                                                                     "try again")
                                                  if words in text("calibration")), None), 240,
                                    "the server to learn the sign")
                    if "try again" not in said:
                        break
                assert "learnt in" in text("calibration"), text("calibration")
                with contextlib.suppress(AssertionError):
                    wait_for(lambda: seen.append(text("answer")) or seen[-1] == "seven", 60, "seven")
                    break
            assert seen and seen[-1] == "seven", f"{text('calibration')}; answered {sorted(set(seen))}"
            wait_for(lambda: "seven" in text("sentence"), 30, "the sentence to hold the new sign")
            assert "seven" in text("signs")
        finally:
            page.quit()
        new = calibrated_runs(run)[0]  # the first teaching
        metrics = json.loads((new / "metrics.json").read_text())
        assert metrics["taught"] == ["seven"] and metrics["signs"][-1] == "seven"
        assert 3 <= metrics["calibration_photos"] <= 10
        with urllib.request.urlopen(url + "/reader", timeout=30) as response:
            assert json.loads(response.read())["signs"] == ["0", "1", "2", "3", "4", "5", "seven"]
        sixes = [p for p, d in zip(paths, digits, strict=True) if d == 6][:3]  # a second sign, by JSON:
        photos = {"six": [data_url(paste(load_frame(p), room)[0]) for p in sixes]}  # it keeps the first
        status, state = post(url + "/calibrate", json.dumps({"photos": photos}).encode())
        assert status == 202 and state["message"] == "learning six from 2 photos", state

        state = wait_for(lambda: finished(url), 120, "the second sign")
        assert state["signs"] == ["0", "1", "2", "3", "4", "5", "seven", "six"], state
