"""The reader in a browser (tfsigns/web, an export's DIR/web/), in headless Chromium: each step agrees with
tfsigns/portable's on fixed inputs (anchors, decoded boxes, suppression, regions, the letterbox, the 224 crop,
the landmarks, the features, Pillow's resizing, framing); window.tfsigns.read answers as read.py does on SIGNS
test photos, other people's hands, hand-free scenes and photos that test the photo rule; the page reads a
fake camera's moving hand at 10 readings a second or more; it reads offline after one visit, asking nothing of
another origin; and a reader.json that does not match its models, a refused camera and a browser without
WebAssembly are each one message on the page."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from tests.browser import browser, chromium_or_skip, static_server, wait_for, y4m
from tests.conftest import REAL_DATA, requires_hands, run_main, six_sign_run
from tfsigns.export import main as export_main
from tfsigns.images.scenes import paste, scene
from tfsigns.portable import framing, hands, palm, photos
from tfsigns.reader.web import WebError, litert_files

OTHER_HANDS = REAL_DATA.parent / "otherhands"
DIGITS = REAL_DATA.parent / "digits"  # other students' 6 to 9: signs the six-sign reader does not know
AGREE = 0.99  # the share of photos the browser must answer as read.py does
CLOSE = 1e-3  # and the probabilities' largest difference where the same pixels went in
FAST = 10  # readings a second from the camera, in headless Chromium on a 2-core machine
RULE = {"mask_low": framing.MASK_LOW, "mask_high": framing.MASK_HIGH, "plain": framing.PLAIN,  # reader.json's
        "edge_quantile": framing.EDGE_QUANTILE, "margin": framing.MARGIN, "hand_pixels": framing.HAND_PIXELS}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The six-sign reader with "a sign I don't know" (tfsigns/reader_signs.json, 100 epochs: sure of SIGNS
    photos pasted into scenes), exported: DIR with read.py and web/."""
    if requires_hands.args[0]:
        pytest.skip(requires_hands.kwargs["reason"])
    try:
        litert_files()
    except WebError as err:
        pytest.skip(str(err))
    chromium_or_skip()
    root = tmp_path_factory.mktemp("web")
    code, out, err = run_main(export_main, ["--model", str(six_sign_run(tmp_path_factory)), "--out",
                                            str(root / "reader")])
    assert code == 0, err
    return root / "reader"


def signs_test() -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(REAL_DATA / "test_signs.h5") as f:
        return np.array(f["test_set_x"]), np.array(f["test_set_y"]).reshape(-1)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------ the page, driven


JS_HELPERS = """const done = arguments[arguments.length - 1];
    const b64 = a => { const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); let s = "";
      for (let i = 0; i < u.length; i += 32768) s += String.fromCharCode(...u.subarray(i, i + 32768));
      return btoa(s); };
    const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
    const floats = s => new Float32Array(bytes(s).buffer);
"""


def run_js(page, body: str, *args):
    """The value an async JavaScript function body returns in the page (its arguments: args); AssertionError
    with the stack where it throws. b64(typed array) and bytes(base64) are at hand for large arrays."""
    call = """(async (...args) => { BODY })(...Array.from(arguments).slice(0, -1))
      .then(value => done({value}), err => done({error: String(err && err.stack || err)}));"""
    script = JS_HELPERS + call.replace("BODY", body)
    result = page.execute_async_script(script, *args)
    assert "error" not in result, result["error"]
    return result["value"]


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), np.float32)


@pytest.fixture(scope="module")
def page(folder, tmp_path_factory):
    """The export's page in headless Chromium with no camera (refused), served with the photos under /photos/,
    its reader ready."""
    chromium, driver = chromium_or_skip()
    shelf = tmp_path_factory.mktemp("photos")
    with static_server(folder / "web", {"/photos/": shelf}) as (url, _):
        page = browser(chromium, driver, flags=("--deny-permission-prompts",))
        try:
            page.get(url + "/")
            wait_for(lambda: page.execute_script("return !!window.tfsigns"), 60, "window.tfsigns")
            run_js(page, "await window.tfsigns.ready;")
            page.shelf = shelf
            yield page
        finally:
            page.quit()


# ------------------------------------------------------------------ each step, on fixed inputs


@pytest.fixture(scope="module")
def hand_scene():
    """Two SIGNS test photos, a 3 and a 5, in a cluttered 640x480 scene, uint8: two palms to find."""
    images, labels = signs_test()
    left, _ = paste(images[np.flatnonzero(labels == 3)[0]], seed=11, at=(0.05, 0.3))
    right, (x0, y0, x1, y1) = paste(images[np.flatnonzero(labels == 5)[0]], seed=11, at=(0.95, 0.7))
    left[y0:y1, x0:x1] = right[y0:y1, x0:x1]
    return left


def test_anchors_boxes_suppression_and_regions_are_portables(page, folder, hand_scene):
    contract = json.loads((folder / "reader.json").read_text())
    model = hands.HandModel(folder / "palm_detection_full.tflite", folder / "hand_landmark_full.tflite")
    square, k, offset = hands.letterbox(hand_scene, palm.PALM_SIZE)
    raw_boxes, raw_scores = sorted(model._run(model.palm_model, square), key=lambda a: -a.shape[-1])
    threshold = 0.02  # many more detections than the contract's 0.5 keeps, so that suppression has work
    boxes, keypoints, scores = palm.decode(raw_boxes[0], raw_scores[0], threshold)
    found = palm.weighted_nms(boxes, keypoints, scores, limit=5)
    assert len(scores) >= 5 and len(found) >= 2, (len(scores), len(found))
    ours = run_js(page, """
        const [{anchors, decode, weightedNms, palmRect, landmarksRect}, contract] =
          [await import("./palm.js"), (await window.tfsigns.ready).contract];
        const settings = {...contract.input.palm, threshold: args[2]};
        const centres = anchors(contract.input.palm);
        const decoded = decode(floats(args[0]), floats(args[1]), centres, settings);
        const merged = weightedNms(decoded, settings.nms_iou, 5);
        const rect = palmRect({box: args[3], keypoints: args[4]}, settings);
        const track = landmarksRect(args[5], contract.input.tracking);
        return {anchors: b64(centres), decoded, merged, rect: [rect.x, rect.y, rect.size, rect.rotation],
                track: [track.x, track.y, track.size, track.rotation]};""",
        b64(raw_boxes[0].reshape(-1)), b64(raw_scores[0].reshape(-1)), threshold,
        (found[0][0].astype(float) * 300).tolist(), (found[0][1].astype(float) * 300).tolist(),
        (hand_scene.shape[1] * np.random.default_rng(0).random((21, 2))).tolist())
    assert np.array_equal(floats(ours["anchors"]).reshape(-1, 2), palm.ANCHORS), "anchors"
    np.testing.assert_allclose([d["box"] for d in ours["decoded"]], boxes, atol=1e-7, err_msg="decoded boxes")
    np.testing.assert_allclose([d["keypoints"] for d in ours["decoded"]], keypoints, atol=1e-7)
    np.testing.assert_allclose([d["score"] for d in ours["decoded"]], scores, rtol=1e-6, err_msg="scores")
    assert len(ours["merged"]) == len(found), "suppression kept another number of palms"
    for mine, (box, points, score) in zip(ours["merged"], found, strict=True):
        np.testing.assert_allclose(mine["box"], box, atol=1e-6, err_msg="merged boxes")
        np.testing.assert_allclose(mine["keypoints"], points, atol=1e-6, err_msg="merged keypoints")
        assert mine["score"] == pytest.approx(score, rel=1e-6)
    # in pixels, float64, as HandModel.palms gives a palm (NumPy computes a float32 box's region in float32)
    rect = palm.palm_rect(palm.Palm(found[0][0].astype(float) * 300, found[0][1].astype(float) * 300, 1.0))
    np.testing.assert_allclose(ours["rect"], [rect.x, rect.y, rect.size, rect.rotation], rtol=1e-9,
                               err_msg="the palm's region")
    points = hand_scene.shape[1] * np.random.default_rng(0).random((21, 2))
    track = palm.landmarks_rect(points)
    np.testing.assert_allclose(ours["track"], [track.x, track.y, track.size, track.rotation], rtol=1e-9,
                               err_msg="the tracked region")
    assert contract["input"]["palm"]["anchor_strides"] == list(palm.STRIDES)


def test_letterbox_crop_landmarks_and_features_are_portables(page, folder, hand_scene):
    model = hands.HandModel(folder / "palm_detection_full.tflite", folder / "hand_landmark_full.tflite")
    frame = np.ascontiguousarray(hand_scene[7:460, 13:600])  # an odd size: 587 x 453
    square, k, offset = hands.letterbox(frame, palm.PALM_SIZE)
    rect = palm.Rect(300.3, 210.7, 180.9, 0.61)  # turned, partly outside the frame
    crop = hands.crop(frame, rect.crop_matrix(hands.LANDMARK_SIZE), hands.LANDMARK_SIZE)
    found = model.landmarks(frame, rect)
    ours = run_js(page, """
        const {letterbox, crop, features} = await import("./hands.js");
        const {Rect} = await import("./palm.js");
        const reader = await window.tfsigns.ready;
        const frame = {data: bytes(args[0]), width: args[1], height: args[2]};
        const boxed = letterbox(frame, 192);
        const rect = new Rect(...args[3]);
        const cropped = crop(frame, rect.cropMatrix(224), 224);
        const hand = await reader.serial(() => reader.hands.landmarks(frame, rect));
        return {square: b64(boxed.square), k: boxed.k, offset: boxed.offset, crop: b64(cropped),
                landmarks: hand.landmarks, world: b64(hand.world), presence: hand.presence,
                features: b64(features({world: floats(args[4])}, 0.1))};""",
        b64(frame), frame.shape[1], frame.shape[0], [rect.x, rect.y, rect.size, rect.rotation],
        b64(found.world.reshape(-1)))
    assert np.array_equal(floats(ours["square"]), square.reshape(-1)), "the palm's letterbox"
    assert ours["k"] == k and ours["offset"] == offset.tolist()
    assert np.array_equal(floats(ours["crop"]), crop.reshape(-1)), "the 224 crop"
    np.testing.assert_allclose(ours["landmarks"], found.landmarks, atol=2e-3, err_msg="landmarks (pixels)")
    np.testing.assert_allclose(floats(ours["world"]), found.world.reshape(-1), atol=1e-5, err_msg="world")
    assert ours["presence"] == pytest.approx(found.presence, abs=1e-5)
    assert np.array_equal(floats(ours["features"]), hands.features(found)), "the 42 features"


def test_pillows_resizing_transparency_and_framing_give_the_same_pixels(page):
    """read.py's Pillow: a large photo shrunk to 1024 (reduced, then bicubic), a pixel reader's 64x64 square
    of a 4:3 frame, transparent pixels put on white (every alpha, as decoded), and framing's crop on SIGNS
    photos (handness, quantiles, the bicubic box)."""
    rng = np.random.default_rng(5)
    smooth = lambda h, w: np.asarray(Image.fromarray(  # noqa: E731
        rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8)).resize((w, h), Image.BILINEAR))
    # wide: reduced by 2 first; tall: resampled vertically first (Pillow 13); frame: a 4:3 camera frame
    wide, tall, frame = smooth(1104, 7008), smooth(3008, 1104), smooth(480, 640)
    images, _ = signs_test()
    columns = images[:6].reshape(6, -1).T / np.float32(255)
    framed = framing.frame_columns(columns.astype(np.float32), (64, 64, 3)).T
    rgba = rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)
    white = Image.new("RGBA", (32, 32), (255, 255, 255, 255))
    on_white = np.asarray(Image.alpha_composite(white, Image.fromarray(rgba)).convert("RGB"))
    ours = run_js(page, """
        const {rgb, shrunk, squareColumn} = await import("./photos.js");
        const {frameHands} = await import("./framing.js");
        const rule = args[4];
        const image = ([data, width, height]) => ({data: bytes(data), width, height});
        const small = [args[0], args[1]].map(image).map(f => shrunk(f, 1024));
        const out = {shrunk: small.map(f => [b64(f.data), f.width]),
                     square: b64(squareColumn(image(args[2]), 64))};
        out.framed = args[3].map(column => b64(frameHands(floats(column), 64, rule)));
        out.onWhite = b64(rgb({data: bytes(args[5]), width: 32, height: 32}).data);
        return out;""",
        *[[b64(a), a.shape[1], a.shape[0]] for a in (wide, tall, frame)],
        [b64(column.astype(np.float32)) for column in columns.T],
        RULE, b64(rgba))
    for (data, width), image in zip(ours["shrunk"], (wide, tall), strict=True):
        expected = Image.fromarray(image)
        expected.thumbnail((1024, 1024), Image.Resampling.BICUBIC, reducing_gap=3.0)
        got = np.frombuffer(base64.b64decode(data), np.uint8)
        assert width == expected.width and np.array_equal(got, np.asarray(expected).reshape(-1)), image.shape
    assert np.array_equal(floats(ours["square"]), photos.square_column(frame)), "the 64x64 square"
    assert np.array_equal(np.frombuffer(base64.b64decode(ours["onWhite"]), np.uint8), on_white.reshape(-1)), \
        "transparent pixels on white"
    for mine, theirs in zip(ours["framed"], framed, strict=True):
        np.testing.assert_allclose(floats(mine), theirs, atol=1e-6, err_msg="framing")


# ------------------------------------------------------------------ the answers: read.py's


def photo_shelf(shelf: Path) -> list[str]:
    """Photos to read, written into `shelf`, by name: SIGNS test photos (PNG, 6 of each sign), other
    people's hands (JPEG, 10 of each sign, from different students), their 6 to 9 where the mirror has them
    (3 of each: unknown signs), scenes without and with a hand (PNG, 640x480), and photos of the photo
    rule: EXIF-turned, larger than 1024 pixels, transparent, greyscale, a palette."""
    images, labels = signs_test()
    names = []

    def save(name: str, image: Image.Image, **options) -> None:
        image.save(shelf / name, **options)
        names.append(name)
    for sign in range(6):
        for i in np.flatnonzero(labels == sign)[:6]:
            save(f"signs-{i:03d}.png", Image.fromarray(images[i]))
        for path in sorted((OTHER_HANDS / str(sign)).glob("*"))[::7][:10]:
            shutil.copyfile(path, shelf / f"other-{sign}-{path.name}")
            names.append(f"other-{sign}-{path.name}")
    for sign in range(6, 10):
        for path in sorted((DIGITS / str(sign)).glob("*"))[::11][:3]:
            shutil.copyfile(path, shelf / f"digit-{sign}-{path.name}")
            names.append(f"digit-{sign}-{path.name}")
    for seed in range(6):
        save(f"scene-{seed}.png", Image.fromarray(scene(100 + seed)))
    for k, i in enumerate(np.flatnonzero(labels == 2)[:4]):
        save(f"scene-hand-{k}.png", Image.fromarray(paste(images[i], seed=200 + k)[0]))
    other = Image.open(sorted((OTHER_HANDS / "4").glob("*"))[0])
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees: the viewer turns it back clockwise
    save("exif-turned.jpg", other.transpose(Image.Transpose.ROTATE_90), exif=exif, quality=95)
    save("large.png", Image.fromarray(paste(images[np.flatnonzero(labels == 1)[0]], seed=300)[0]).resize(
        (1400, 1050), Image.Resampling.BICUBIC))
    five = images[np.flatnonzero(labels == 5)[1]]
    rgba = Image.fromarray(five).convert("RGBA")  # the hand on a transparent wall, which goes on white
    rgba.putalpha(Image.fromarray((framing.handness(five[None] / 255)[0] > 0.3).astype(np.uint8) * 255))
    save("transparent.png", rgba)
    save("grey.png", Image.fromarray(images[np.flatnonzero(labels == 0)[1]]).convert("L"))
    save("palette.png", Image.fromarray(images[np.flatnonzero(labels == 3)[1]]).convert("P"))
    return names


def test_the_browser_answers_as_read_py(page, folder):
    names = photo_shelf(page.shelf)
    read = subprocess.run([sys.executable, str(folder / "read.py"), *(str(page.shelf / n) for n in names)],
                          capture_output=True, text=True, timeout=600)
    assert read.returncode == 0, read.stderr
    expected = [json.loads(line) for line in read.stdout.splitlines()]
    started = time.monotonic()
    answers = run_js(page, """
        const out = [];
        for (const name of args[0]) out.push(await window.tfsigns.read(`/photos/${name}`));
        return out;""", names)
    seconds = time.monotonic() - started
    assert [a["image"] for a in answers] == [f"/photos/{n}" for n in names]
    same = [(a["class"], a["sign"], a.get("hand")) == (e["class"], e["sign"], e.get("hand"))
            for a, e in zip(answers, expected, strict=True)]
    pairs = [([*a["probabilities"], a["unknown"]], [*e["probabilities"], e["unknown"]])
             for a, e in zip(answers, expected, strict=True)
             if a["probabilities"] is not None and e["probabilities"] is not None]
    worst = max(np.abs(np.subtract(*pair)).max() for pair in pairs)
    print(f"the browser answered {sum(same)} of {len(names)} photos as read.py did, probabilities at most "
          f"{worst:.1e} apart; {seconds / len(names) * 1000:.0f} ms a photo")
    differ = [(n, a, e) for n, a, e, s in zip(names, answers, expected, same, strict=True) if not s]
    assert np.mean(same) >= AGREE, differ
    assert worst <= CLOSE
    kinds = {"no hand" if not e["hand"] else "unknown sign" if e["class"] is None else "sign"
             for e in expected}
    assert kinds == {"sign", "no hand", "unknown sign"}, kinds


def test_the_unknown_sign_is_said_from_its_threshold_as_read_py_says_it(page):
    """answer.js's Signs reads as read.py's: "a sign I don't know" where the unknown output reaches
    reader.json's threshold, even below a sign's probability, else the most probable sign (never the unknown
    output for being the highest below its threshold); a threshold outside (0, 1] fits no reader."""
    from tfsigns.portable.read import Signs
    contract = {"signs": ["0", "1", "hello"], "unknown": {"output": 3, "threshold": 0.3}}
    cases = [[0.45, 0.2, 0.05, 0.3], [0.6, 0.1, 0.05, 0.25], [0.1, 0.1, 0.1, 0.7], [0.25, 0.2, 0.26, 0.29]]
    read = run_js(page, """const {Signs} = await import("./answer.js");
        const signs = Signs.of(args[0]), refused = [0, 1.5, "0.3"].map(threshold =>
          Signs.of({...args[0], unknown: {output: 3, threshold}}));
        return [args[1].map(p => signs.read(Float32Array.from(p))), refused];""", contract, cases)
    expected = [Signs.of(contract).read(np.float32(case)) for case in cases]
    assert read == [expected, [None, None, None]] and expected == [None, 0, None, 2], (read, expected)


def test_a_sign_is_steady_on_a_slow_device_too(page):
    """camera.js's steadySign: the same sign, confidently, in every reading of the last half second, and in
    at least the last two readings: on a device that reads fewer than two frames a second (a loaded machine, a
    slow phone) a held sign still shows, where before no half second ever held two readings."""
    cases = [  # (readings as [ms, sign, p], now): what shows
        ([[0, "7", 0.9], [100, "7", 0.9], [200, "7", 0.9], [300, "7", 0.9], [400, "7", 0.9], [500, "7", 0.9],
          [600, "7", 0.9]], 600),  # ten readings a second: 7
        ([[0, "7", 0.9], [700, "7", 0.9], [1400, "7", 0.9]], 1400),  # under two a second: 7
        ([[0, "7", 0.9], [700, "3", 0.9], [1400, "7", 0.9]], 1400),  # under two a second, not the same: none
        ([[0, "7", 0.9], [700, "7", 0.5], [1400, "7", 0.9]], 1400),  # not sure of one: none
        ([[0, "7", 0.9], [300, "7", 0.9]], 300),  # not yet half a second: none
    ]
    shown = run_js(page, """const {steadySign} = await import("./camera.js");
        const reading = ([time, sign, p]) => ({time, sign, p});
        return args[0].map(([readings, now]) => steadySign(readings.map(reading), now));""", cases)
    assert shown == ["7", "7", None, None, None], shown


# ------------------------------------------------------------------ the camera


# the page's answer, and whether its overlay over the video holds a drawn pixel (the hand's landmarks, bones)
SEEN = """const c = document.getElementById("hand");
return [document.getElementById("answer").textContent,
        c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some(v => v > 0)];"""


def test_the_page_reads_a_hand_moving_across_the_camera_ten_times_a_second(folder, tmp_path):
    """Chromium's fake camera plays a SIGNS 3 moving across a cluttered 640x480 room (4 s), then the empty
    room (2 s), over and over: the page shows the 3, draws the hand, writes the 3 into the sentence, says
    "no hand" for the room, and #rate shows 10 readings a second or more (in some two seconds of the
    hand: this machine is shared, and its other work comes and goes)."""
    chromium, driver = chromium_or_skip()
    images, labels = signs_test()
    three = images[np.flatnonzero(labels == 3)[0]]
    path = [(t, 0.2 + 0.6 * t) for t in np.linspace(0, 1, 40)]
    y4m([paste(three, 7, at=at)[0] for at in path] + [scene(7)] * 20, tmp_path / "room.y4m")
    with static_server(folder / "web") as (url, _):
        page = browser(chromium, driver, tmp_path / "room.y4m")
        try:
            page.get(url + "/")
            seen = lambda: page.execute_script(SEEN)  # noqa: E731
            wait_for(lambda: seen() == ["3", True], 90, "the page to read the moving 3 and draw its hand")
            rates = []  # #rate every half second, up to 20 s of the hand (and the room), until it shows FAST
            for _ in range(40):
                rates.append(float(page.find_element("id", "rate").text))
                if rates[-1] >= FAST:
                    break
                time.sleep(0.5)
            print(f"the camera read at {max(rates):.1f} readings a second at best in {len(rates) / 2:g} s "
                  f"({page.find_element('id', 'ms').text} ms a reading)")
            assert max(rates) >= FAST, rates
            wait_for(lambda: seen() == ["no hand", False], 30, "the page to say no hand for the empty room")
            assert "3" in page.find_element("id", "sentence").text
        finally:
            page.quit()


# ------------------------------------------------------------------ offline, and its own origin only


def test_after_one_visit_the_page_reads_offline_and_asks_nothing_of_another_origin(folder, tmp_path):
    """The first visit fetches the page's files through its service worker, which keeps them; the static
    server is stopped and the page, reloaded, reads a photo and the camera. Chromium's own log of every
    request (--log-net-log, the service worker's too) holds none for another origin."""
    chromium, driver = chromium_or_skip()
    images, labels = signs_test()
    three = images[np.flatnonzero(labels == 3)[0]]
    y4m([paste(three, 9, at=(0.4, 0.5))[0]] * 10, tmp_path / "still.y4m")
    net = tmp_path / "net.json"
    web = folder / "web"
    with static_server(web) as (url, log):
        page = browser(chromium, driver, tmp_path / "still.y4m", flags=(f"--log-net-log={net}",))
        try:
            page.get(url + "/")
            wait_for(lambda: page.execute_script("return document.body.dataset.offline"), 120,
                     "the service worker to keep the page's files")
            assert page.execute_script("return document.body.dataset.offline") == "ready"
            wait_for(lambda: page.find_element("id", "answer").text == "3", 60, "the camera's 3")
            fetched = [path for path, code in log if code == "200"]
            first = sum((web / path.split("?")[0].lstrip("/")).stat().st_size if path != "/" else
                        (web / "index.html").stat().st_size for path in fetched)
            size = sum(p.stat().st_size for p in web.rglob("*") if p.is_file())
            print(f"first visit: {len(fetched)} files, {first / 1e6:.2f} MB of the folder's "
                  f"{size / 1e6:.2f} MB")
            assert first < size  # one of LiteRT.js's WebAssembly builds, not both
        except BaseException:
            page.quit()
            raise
    try:  # the server is gone
        with pytest.raises(OSError):
            __import__("urllib.request").request.urlopen(url + "/", timeout=5)
        page.refresh()
        wait_for(lambda: page.execute_script("return document.body.dataset.state"), 60, "the reader offline")
        assert page.execute_script("return document.body.dataset.state") == "ready", page.find_element(
            "id", "status").text
        answer = run_js(page, "return await window.tfsigns.read(new Blob([bytes(args[0])]), 'three.png');",
                        base64.b64encode(png(three)).decode())
        assert answer["hand"] and answer["class"] == 3, answer
        wait_for(lambda: page.find_element("id", "answer").text == "3", 60, "the camera's 3, offline")
    finally:
        page.quit()
    assert not requests_elsewhere(net, url)


def requests_elsewhere(net: Path, origin: str) -> list[str]:
    """The URLs of another origin that Chromium's net log (--log-net-log) shows the page at `origin` asking
    for: every request started for its site (its own and its service worker's; Chromium's own requests, for
    its updates and its time, have a site of their own), and any whose initiator it is. AssertionError where
    the log shows none of the page's."""
    log = json.loads(net.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    site = "http://" + origin.split("://")[1].split(":")[0]
    asked = [event.get("params", {}) for event in log["events"] if event["type"] == start]
    mine = [p["url"] for p in asked if p.get("initiator") == origin
            or p.get("network_isolation_key", "").startswith(site + " ")]
    assert any(u.startswith(origin + "/") for u in mine), "the log holds the page's requests"
    return sorted(u for u in mine if not u.startswith((origin + "/", "data:", "blob:")))


# ------------------------------------------------------------------ what goes wrong, said on the page


def test_a_mismatched_reader_a_refused_camera_and_no_webassembly_are_each_one_message(folder, tmp_path):
    chromium, driver = chromium_or_skip()
    broken = tmp_path / "broken"
    shutil.copytree(folder / "web", broken)
    model = broken / "hand_landmark_full.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 1  # one bit: not the file reader.json names
    model.write_bytes(bytes(data))
    photo = tmp_path / "three.png"
    images, labels = signs_test()
    photo.write_bytes(png(images[np.flatnonzero(labels == 3)[0]]))
    camera = ("--use-fake-device-for-media-stream", "--deny-permission-prompts")
    said = lambda web, flags, message, script="", host="127.0.0.1": one_message(  # noqa: E731
        browser(chromium, driver, flags=flags), web, message, script, host)
    with said(broken, ("--deny-permission-prompts",),
              "hand_landmark_full.tflite: not the file reader.json names (SHA-256 differs)") as page:
        assert page.execute_script("return document.body.dataset.state") == "failed"
    with said(folder / "web", camera, "no camera: it was refused") as page:  # the reader still reads a photo
        page.find_element("id", "upload").send_keys(str(photo))
        wait_for(lambda: page.find_element("id", "uploaded").text.startswith("three.png: 3"), 60, "the photo")
    # plain http from a name that is not this machine's (a phone on the local network): no secure context, so
    # no camera, no service worker and no crypto.subtle; the page says why, and reads a photo still
    other = ("--host-resolver-rules=MAP phone.test 127.0.0.1", *camera)
    with said(folder / "web", other, "a browser opens the camera only for a page that comes over https",
              host="phone.test") as page:
        assert not page.execute_script("return window.isSecureContext")
        page.find_element("id", "upload").send_keys(str(photo))
        wait_for(lambda: page.find_element("id", "uploaded").text.startswith("three.png: 3"), 60, "the photo")
    # as in a browser with WebAssembly turned off (iOS's Lockdown Mode, an enterprise policy): not there
    no_wasm = "delete globalThis.WebAssembly;"
    with said(folder / "web", camera, "this browser runs no WebAssembly", no_wasm) as page:
        assert page.execute_script("return document.body.dataset.state") == "failed"


@contextlib.contextmanager
def one_message(page, web: Path, message: str, script: str = "", host: str = "127.0.0.1"):
    """The page of `web` in Chromium (asked for by `host`; `script` run before the page's own), once #status
    says `message` in one line, as an error."""
    with static_server(web) as (url, _):
        try:
            if script:
                page.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
            page.get(url.replace("127.0.0.1", host) + "/")
            status = lambda: page.find_element("id", "status")  # noqa: E731
            try:
                wait_for(lambda: message in status().text, 60, f"{message!r} on the page")
            except AssertionError as err:
                raise AssertionError(f"{err}; it says {status().text!r}") from None
            assert "\n" not in status().text and "error" in status().get_attribute("class")
            yield page
        finally:
            page.quit()
