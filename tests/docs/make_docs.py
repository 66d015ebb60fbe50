#!/usr/bin/env python3
"""Writes the marketplace-style test documents in tests/fixtures/docs with producers that are not labeld:
reportlab draws the PDFs (vector text and Code 128), Pillow draws the PNG labels and the greyscale image label.
The bad inputs are made here too: some by reportlab (encrypted, 500 pages, a 10 m page), the rest written
byte by byte (zero pages, a decompression bomb) or cut from a good file (truncated).

    pip install reportlab pillow
    python3 tests/docs/make_docs.py            # rewrites tests/fixtures/docs

The expected tracking number of each label is in tests/fixtures/docs/manifest.json.
"""
import io
import json
import os
import zlib

from PIL import Image, ImageDraw, ImageFont
from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A5, A6, letter
from reportlab.lib.units import inch, mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from reportlab.lib import pdfencrypt

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "docs")
manifest = {}


def doc(name, pagesize, **kw):
    c = canvas.Canvas(os.path.join(OUT, name), pagesize=pagesize, invariant=1, pageCompression=1, **kw)
    c.setAuthor("reportlab test producer")
    return c


def label(c, w, h, tracking, module_mm, left=4 * mm, top=4 * mm, order_id="5781234567890", order_module_mm=0.3):
    """A platform-style label inside (left, top)..(w-left, h-top): frame, carrier, sort code, tracking barcode,
    addresses in vector text, an order id barcode."""
    x0, x1, y1 = left, w - left, h - top
    c.setLineWidth(0.8)
    c.rect(x0, top, x1 - x0, y1 - top)
    c.setFont("Helvetica-Bold", 16)
    c.drawString(x0 + 3 * mm, y1 - 9 * mm, "J&T EXPRESS")
    c.setFont("Helvetica-Bold", 22)
    c.drawRightString(x1 - 3 * mm, y1 - 10 * mm, "SOC-07 B2")
    c.line(x0, y1 - 14 * mm, x1, y1 - 14 * mm)
    bc = code128.Code128(tracking, barWidth=module_mm * mm, barHeight=18 * mm, humanReadable=False, quiet=True)
    bx = x0 + ((x1 - x0) - bc.width) / 2
    bc.drawOn(c, bx, y1 - 36 * mm)
    c.setFont("Helvetica", 10)
    c.drawCentredString((x0 + x1) / 2, y1 - 40 * mm, tracking)
    c.line(x0, y1 - 43 * mm, x1, y1 - 43 * mm)
    c.setFont("Helvetica-Bold", 9)
    c.drawString(x0 + 3 * mm, y1 - 48 * mm, "TO:")
    c.setFont("Helvetica", 9)
    for i, line in enumerate(["Nguyen Van A  (+84) 90*****12", "12 Ly Thuong Kiet, Hoan Kiem", "Ha Noi 100000, Viet Nam"]):
        c.drawString(x0 + 10 * mm, y1 - (48 + 4.5 * i) * mm, line)
    c.setFont("Helvetica-Bold", 9)
    c.drawString(x0 + 3 * mm, y1 - 66 * mm, "FROM:")
    c.setFont("Helvetica", 9)
    c.drawString(x0 + 14 * mm, y1 - 66 * mm, "Shop WH-01, 5 Tran Phu, Da Nang")
    c.line(x0, y1 - 70 * mm, x1, y1 - 70 * mm)
    ob = code128.Code128(order_id, barWidth=order_module_mm * mm, barHeight=9 * mm, humanReadable=False, quiet=True)
    ob.drawOn(c, x0 + 3 * mm, y1 - 82 * mm)
    c.setFont("Helvetica", 8)
    c.drawString(x0 + 3 * mm, y1 - 86 * mm, "Order ID " + order_id)
    c.setFont("Helvetica", 7)
    c.drawString(x0 + 3 * mm, top + 3 * mm, "Weight 0.45 kg   COD 0   PICK UP")


def slip(c, w, h, order_id):
    c.setFont("Helvetica-Bold", 14)
    c.drawString(6 * mm, h - 12 * mm, "PACKING SLIP")
    c.setFont("Helvetica", 9)
    c.drawString(6 * mm, h - 18 * mm, "Order ID " + order_id)
    ob = code128.Code128(order_id, barWidth=0.3 * mm, barHeight=8 * mm, humanReadable=False)
    ob.drawOn(c, 6 * mm, h - 30 * mm)
    y = h - 40 * mm
    for sku, name, qty in [("SKU-001", "Cotton T-shirt, black, M", 2), ("SKU-114", "Phone case 6.1 in", 1)]:
        c.drawString(6 * mm, y, sku)
        c.drawString(28 * mm, y, name)
        c.drawRightString(w - 6 * mm, y, f"x{qty}")
        y -= 5 * mm


def pdf_labels():
    # A6, marks 4 mm in from the edges: 97 mm wide, so trimming fits 100 mm media without scaling.
    c = doc("a6-label.pdf", A6)
    label(c, *A6, "JX2345678901VN", 0.33)
    c.showPage(); c.save()
    manifest["a6-label.pdf"] = "JX2345678901VN"

    # A6 with a frame 1 mm from the edges: 103 mm of marks, so it must shrink (factor recorded).
    c = doc("a6-wide.pdf", A6)
    label(c, *A6, "JX2345678902VN", 0.42, left=1 * mm)
    c.showPage(); c.save()
    manifest["a6-wide.pdf"] = "JX2345678902VN"

    # 4×6 in with 0.25 mm modules: two dots at 203 dpi, the finest a 203-dpi head prints.
    size = (4 * inch, 6 * inch)
    c = doc("4x6-label.pdf", size)
    label(c, *size, "1Z999AA10123456784", 0.25)
    c.showPage(); c.save()
    manifest["4x6-label.pdf"] = "1Z999AA10123456784"

    size = (100 * mm, 150 * mm)
    c = doc("100x150-label.pdf", size)
    label(c, *size, "SPXVN0123456789", 0.42)
    c.showPage(); c.save()
    manifest["100x150-label.pdf"] = "SPXVN0123456789"

    # A landscape media box shown portrait by /Rotate 90: drawn in the portrait frame the viewer sees.
    # reportlab takes the size as shown and writes the media box swapped (150 wide, 100 tall).
    W, H = 150 * mm, 100 * mm
    c = doc("rotate90.pdf", (H, W))
    c.setPageRotation(90)
    c.translate(W, 0)
    c.rotate(90)
    label(c, H, W, "LEX0987654321TH", 0.42)
    c.showPage(); c.save()
    manifest["rotate90.pdf"] = "LEX0987654321TH"

    # A landscape page laid out landscape: labeld turns it to portrait.
    c = doc("landscape.pdf", (W, H))
    c.setLineWidth(0.8)
    c.rect(4 * mm, 4 * mm, W - 8 * mm, H - 8 * mm)
    c.setFont("Helvetica-Bold", 16)
    c.drawString(8 * mm, H - 13 * mm, "NINJA VAN")
    bc = code128.Code128("NVSG0000123456", barWidth=0.42 * mm, barHeight=20 * mm, humanReadable=True, quiet=True)
    bc.drawOn(c, (W - bc.width) / 2, H - 45 * mm)
    c.setFont("Helvetica", 10)
    c.drawString(8 * mm, 30 * mm, "TO: Tan Ah Kow, 1 Raffles Place, Singapore 048616")
    c.drawString(8 * mm, 24 * mm, "FROM: Shop WH-02, 3 Jurong East St 32")
    c.showPage(); c.save()
    manifest["landscape.pdf"] = "NVSG0000123456"

    # Label and packing slip in one PDF (TikTok Shop's SHIPPING_LABEL_AND_PACKING_SLIP).
    c = doc("label-slip.pdf", A6)
    label(c, *A6, "TT7788990011ID", 0.33, order_id="5790000000001")
    c.showPage()
    slip(c, *A6, "5790000000001")
    c.showPage(); c.save()
    manifest["label-slip.pdf"] = "TT7788990011ID"

    # A 100×150 label cropped out of an A4 media box; a decoy label outside the crop box must not be seen.
    from reportlab.lib.pagesizes import A4
    c = doc("crop.pdf", A4)
    c.setCropBox((20 * mm, 40 * mm, 120 * mm, 190 * mm))
    c.saveState(); c.translate(20 * mm, 40 * mm)
    label(c, 100 * mm, 150 * mm, "CROP0000000001", 0.42)
    c.restoreState()
    c.saveState(); c.translate(20 * mm, 200 * mm)
    bc = code128.Code128("DECOY999999999", barWidth=0.42 * mm, barHeight=15 * mm, humanReadable=False)
    bc.drawOn(c, 0, 0)
    c.restoreState()
    c.showPage(); c.save()
    manifest["crop.pdf"] = "CROP0000000001"

    # Too big for a 4-inch head: refused unless fit = "scale".
    c = doc("a5-label.pdf", A5)
    label(c, *A5, "A5LABEL0000001", 0.42, left=6 * mm, top=6 * mm)
    c.showPage(); c.save()
    manifest["a5-label.pdf"] = "A5LABEL0000001"

    c = doc("letter.pdf", letter)
    c.saveState(); c.translate(0.5 * inch, letter[1] - 6.5 * inch)
    label(c, 4 * inch, 6 * inch, "9400111899223397623910", 0.33)
    c.restoreState()
    c.showPage(); c.save()
    manifest["letter.pdf"] = "9400111899223397623910"

    # Bars of 0.1 mm modules: 0.8 dots at 203 dpi. A viewer at screen zoom shows them; no 203-dpi head can.
    size = (100 * mm, 150 * mm)
    c = doc("thin-bars.pdf", size)
    label(c, *size, "THIN0000000001", 0.10, order_module_mm=0.10)
    c.showPage(); c.save()
    manifest["thin-bars.pdf"] = "THIN0000000001"


def font(size):
    for path in ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]:
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def raster_label(dpi, w_in, h_in, tracking, module_px, supersample):
    """A label picture at `dpi`. With supersample > 1 it is drawn larger and box-filtered down, so every edge
    is grey (anti-aliased), as a platform's image renderer makes it."""
    s = supersample
    W, H = round(w_in * dpi) * s, round(h_in * dpi) * s
    img = Image.new("L", (W, H), 255)
    d = ImageDraw.Draw(img)
    px = lambda mm_: round(mm_ / 25.4 * dpi * s)
    d.rectangle([px(3), px(3), W - px(3), H - px(3)], outline=0, width=px(0.4))
    d.text((px(7), px(6)), "FLASH EXPRESS", font=font(px(5)), fill=0)
    # Code 128 from reportlab's symbol (its bar pattern), painted as pixels with whole-pixel modules.
    bc = code128.Code128(tracking, barWidth=1, humanReadable=False, quiet=False)
    bc.validate(); bc.encode(); bc.decompose()
    # reportlab's decomposed form: an upper-case letter is a bar, lower-case a space, A/a one module wide.
    widths = [ord(ch) - (ord("A") if ch.isupper() else ord("a")) + 1 for ch in bc.decomposed]
    total = sum(widths) * module_px * s
    x = (W - total) // 2
    y0, y1 = px(22), px(42)
    black = True
    for wdt in widths:
        step = wdt * module_px * s
        if black:
            d.rectangle([x, y0, x + step - 1, y1], fill=0)
        x += step
        black = not black
    d.text((px(30), px(44)), tracking, font=font(px(4)), fill=0)
    for i, line in enumerate(["TO: Somchai Jaidee 08*-***-1234", "99/1 Sukhumvit Rd, Khlong Toei", "Bangkok 10110, Thailand"]):
        d.text((px(7), px(55 + 6 * i)), line, font=font(px(3.5)), fill=0)
    if s > 1:
        img = img.resize((W // s, H // s), Image.BOX)
    return img


def png_labels():
    # 4×6 at 203 dpi, crisp, 2-dot modules.
    img = raster_label(203, 4, 6, "TH0123456789A", 2, 1)
    img.convert("1").save(os.path.join(OUT, "label-203.png"), dpi=(203, 203))
    manifest["label-203.png"] = "TH0123456789A"
    # 4×6 at 300 dpi, greyscale and anti-aliased, 3-pixel modules (0.254 mm: 1.7 dots at 203 dpi).
    img = raster_label(300, 4, 6, "TH9876543210B", 3, 4)
    img.save(os.path.join(OUT, "label-300.png"), dpi=(300, 300))
    manifest["label-300.png"] = "TH9876543210B"
    # The same picture inside an A6 PDF at its own 300 dpi (how some platforms wrap a picture label).
    img = raster_label(300, 96 / 25.4, 140 / 25.4, "IMG300000000001", 4, 4)
    c = doc("image-label-300.pdf", A6)
    c.drawImage(ImageReader(img), (A6[0] - 96 * mm) / 2, (A6[1] - 140 * mm) / 2, 96 * mm, 140 * mm)
    c.showPage(); c.save()
    manifest["image-label-300.pdf"] = "IMG300000000001"


def write_pdf(name, objects):
    """A PDF from raw object bodies (1-based), with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(out.getvalue())


def bad_inputs():
    bad = os.path.join(OUT, "bad")
    os.makedirs(bad, exist_ok=True)
    good = open(os.path.join(OUT, "a6-label.pdf"), "rb").read()
    open(os.path.join(bad, "truncated.pdf"), "wb").write(good[: len(good) * 6 // 10])
    open(os.path.join(bad, "not-a-pdf.pdf"), "wb").write(b"<html><body>Session expired. Please log in.</body></html>\n")
    c = canvas.Canvas(os.path.join(bad, "encrypted.pdf"), pagesize=A6, invariant=1,
                      encrypt=pdfencrypt.StandardEncryption("secret", ownerPassword="owner", strength=128))
    label(c, *A6, "ENC0000000001", 0.42)
    c.showPage(); c.save()
    c = canvas.Canvas(os.path.join(bad, "500-pages.pdf"), pagesize=A6, invariant=1, pageCompression=1)
    for i in range(500):
        c.setFont("Helvetica", 12)
        c.drawString(20, 200, f"page {i + 1}")
        c.showPage()
    c.save()
    c = canvas.Canvas(os.path.join(bad, "huge-page.pdf"), pagesize=(10000 * mm, 10000 * mm), invariant=1)
    c.drawString(100, 100, "ten metres square")
    c.showPage(); c.save()
    write_pdf("bad/zero-pages.pdf", [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
    # 100 MB of white space in a content stream, 100 KB compressed.
    bomb = zlib.compress(b" " * (100 << 20), 9)
    write_pdf("bad/bomb.pdf", [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 283 420] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream",
    ])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    pdf_labels()
    png_labels()
    bad_inputs()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
