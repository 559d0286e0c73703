"""What the demo is made of: its charities and projects, its donors' names, its amounts,
and the invoices (a PDF, a redacted photo) its disbursements cite.

Generation only: ``api.demo`` records it all through the services.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageDraw


@dataclass(frozen=True)
class ProjectSpec:
    title: str
    goal_amount: int
    payee: str
    payee_en: str
    purpose: str


@dataclass(frozen=True)
class CharitySpec:
    name: str
    registration_no: str
    projects: tuple[ProjectSpec, ...]


CHARITIES = (
    CharitySpec(
        "甘肃水窖公益基金会",
        "53620000MJ0001234X",
        (
            ProjectSpec(
                "定西母亲水窖 · Rainwater cellars for Dingxi villages",
                80_000_000,
                "定西市安定区水泥建材站",
                "Dingxi Anding Cement Supplies",
                "水泥和管道 · cement and pipes",
            ),
            ProjectSpec(
                "会宁小学净水器 · Water filters for Huining primary schools",
                12_000_000,
                "兰州净水设备有限公司",
                "Lanzhou Water Purification Co.",
                "陶瓷净水器 · ceramic water filters",
            ),
        ),
    ),
    CharitySpec(
        "云南乡村学校助学会",
        "53530000MJ0005678Y",
        (
            ProjectSpec(
                "怒江村小课本 · Textbooks for Nujiang village schools",
                6_000_000,
                "昆明新华书店",
                "Kunming Xinhua Bookstore",
                "一至六年级课本 · textbooks, grades 1-6",
            ),
            ProjectSpec(
                "寄宿生冬衣 · Winter coats for boarding pupils",
                9_000_000,
                "大理服装厂",
                "Dali Garment Factory",
                "冬季棉衣 · winter coats",
            ),
        ),
    ),
    CharitySpec(
        "川西灾害救援中心",
        "53510000MJ0009012Z",
        (
            ProjectSpec(
                "泸定地震救灾帐篷 · Earthquake relief tents, Luding",
                30_000_000,
                "成都帐篷制造有限公司",
                "Chengdu Tent Manufacturing",
                "救灾帐篷 · relief tents",
            ),
            ProjectSpec(
                "应急食品包 · Emergency food parcels",
                15_000_000,
                "雅安粮油批发市场",
                "Ya'an Grain and Oil Market",
                "米面油食品包 · rice, oil and flour parcels",
            ),
        ),
    ),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明")
CHANNELS = ("card", "alipay", "wechat_pay", "bank_transfer")
AMOUNTS = (1_000, 2_000, 5_000, 5_000, 10_000, 10_000, 20_000, 50_000, 100_000, 200_000)


def invoice_pdf(number: str, payee: str, amount: int, day: datetime, purpose: str) -> bytes:
    """A one-page PDF invoice (ASCII text, Helvetica), with a correct cross-reference table."""
    lines = [
        f"INVOICE {number}",
        f"Payee: {payee}",
        f"Date: {day:%Y-%m-%d}",
        f"For: {purpose}",
        f"Amount: CNY {amount // 100}.{amount % 100:02d}",
    ]
    text = "BT /F1 14 Tf 36 250 Td 18 TL " + " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*"
        for line in lines
    )
    stream = text.encode("ascii", "replace") + b" ET"
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 420 300]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length %d>>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def redacted_photo(number: str, amount: int, day: datetime) -> bytes:
    """A public, redacted image of an invoice: amount and date, the rest blacked out."""
    image = Image.new("RGB", (360, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 359, 199), outline="black", width=3)
    draw.text((20, 20), f"INVOICE {number}", fill="black")
    draw.rectangle((20, 50, 340, 80), fill="black")  # payee's account details, redacted
    draw.text((20, 100), f"{day:%Y-%m-%d}", fill="black")
    draw.text((20, 130), f"CNY {amount // 100}.{amount % 100:02d}", fill="black")
    draw.rectangle((200, 150, 340, 185), fill="black")  # signature and stamp, redacted
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def daily_counts(rng: random.Random, total: int, days: int) -> Iterator[int]:
    """How many of ``total`` donations arrive on each of ``days`` days: more at weekends."""
    weights = [1 + rng.random() + (1.5 if day % 7 in (5, 6) else 0) for day in range(days)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    counts[-1] += total - sum(counts)
    yield from counts
