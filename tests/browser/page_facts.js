// What a reader sees on one page, measured in the browser after the page has loaded.
// Evaluated by tests/browser/conftest.py (page.evaluate); returns plain JSON.
//
// Colours are read the way the browser paints them: every CSS colour string is drawn into a
// 1x1 canvas and read back as sRGB bytes, so hsl(), named colours and currentColor (already
// resolved by getComputedStyle) all come out the same way.
async () => {
  await document.fonts.ready; // the math font: boxes are measured as the reader sees them
  // Collapsible blocks (<details>: the article's expansions, long listings) are measured
  // open, so that what is inside them is checked too; how they were when the page loaded
  // is recorded first. The full-page screenshot then shows them open as well.
  const details = [...document.querySelectorAll(".md-typeset details")].map((d) => ({
    summary: (d.querySelector("summary")?.textContent || "").replace(/\s+/g, " ").trim(),
    open: d.open,
    source: d.classList.contains("mkdocstrings-source"),
  }));
  for (const d of document.querySelectorAll(".md-typeset details")) d.open = true;
  // Stepped figures (figures.js shows one frame at a time): every frame is measured too.
  for (const f of document.querySelectorAll(".md-typeset .ar-frame[hidden]")) f.hidden = false;
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const MATHML = "http://www.w3.org/1998/Math/MathML";
  const RAW_TEX = ["\\frac", "\\sqrt", "\\operatorname", "\\mathbb", "$$"];
  const NOT_PROSE = "pre, code, script, style, noscript, textarea, math, svg, title";

  const pixel = document.createElement("canvas");
  pixel.width = pixel.height = 1;
  const ink = pixel.getContext("2d", { willReadFrequently: true });

  // A CSS colour as [r, g, b, a] with r, g, b in 0..255 and a in 0..1.
  const colours = new Map();
  const rgba = (css) => {
    if (!css || css === "none" || css === "transparent" || css.startsWith("url(")) {
      return [0, 0, 0, 0];
    }
    if (!colours.has(css)) {
      ink.clearRect(0, 0, 1, 1);
      ink.fillStyle = "rgba(0, 0, 0, 0)";
      ink.fillStyle = css;
      ink.fillRect(0, 0, 1, 1);
      const [r, g, b, a] = ink.getImageData(0, 0, 1, 1).data;
      colours.set(css, [r, g, b, a / 255]);
    }
    return colours.get(css).slice();
  };
  // `top` (with alpha) painted over an opaque `bottom`.
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => a * top[i] + (1 - a) * bottom[i]).concat([1]);
  };
  const hex = (c) =>
    "#" + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  // WCAG 2.x relative luminance and contrast ratio.
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  // The colour behind an HTML element: its own and its ancestors' backgrounds, composited
  // down to the first opaque one (the page's canvas is white when none is opaque).
  const htmlBackground = (element) => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    let background = [255, 255, 255, 1];
    for (const c of layers.reverse()) background = over(c, background);
    return background;
  };
  const opacityUpTo = (element, stop) => {
    let o = 1;
    for (let e = element; e && e !== stop.parentElement; e = e.parentElement) {
      o *= parseFloat(getComputedStyle(e).opacity);
    }
    return o;
  };
  const images = new Map();
  const imageData = async (href) => {
    if (!images.has(href)) {
      const img = new Image();
      img.src = href;
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(img, 0, 0);
      images.set(href, { width: canvas.width, height: canvas.height, context });
    }
    return images.get(href);
  };
  // What an <svg> paints, in painting (document) order: its filled shapes and raster images
  // with their boxes and colours. Measured once per figure.
  const paintedShapes = (svg) =>
    [...svg.querySelectorAll("path, rect, circle, ellipse, polygon, polyline, use, image")]
      .filter((shape) => !shape.closest("defs, clipPath, mask, pattern, marker, symbol"))
      .map((shape) => {
        const style = getComputedStyle(shape);
        const image = shape instanceof SVGImageElement;
        const colour = image ? null : rgba(style.fill);
        if (colour) colour[3] *= parseFloat(style.fillOpacity);
        return {
          shape,
          image,
          box: shape.getBoundingClientRect(),
          colour,
          opacity: opacityUpTo(shape, svg),
          shown: style.display !== "none" && style.visibility === "visible",
        };
      })
      .filter((s) => s.shown && s.opacity > 0 && (s.image || s.colour[3] > 0));
  // The colour behind the centre of an SVG text: the page behind the <svg>, then every
  // filled shape or raster image painted before the text that covers that point.
  const svgBackground = async (text, svg, shapes) => {
    const box = text.getBoundingClientRect();
    const point = new DOMPoint(box.left + box.width / 2, box.top + box.height / 2);
    let background = htmlBackground(svg.parentElement);
    for (const { shape, image, box: b, colour: fill, opacity } of shapes) {
      if (!(shape.compareDocumentPosition(text) & Node.DOCUMENT_POSITION_FOLLOWING)) break;
      if (point.x < b.left || point.x > b.right || point.y < b.top || point.y > b.bottom) continue;
      const local = point.matrixTransform(shape.getScreenCTM().inverse());
      let colour;
      if (image) {
        const data = await imageData(shape.href.baseVal);
        const x = shape.x.baseVal.value, y = shape.y.baseVal.value;
        const w = shape.width.baseVal.value || data.width, h = shape.height.baseVal.value || data.height;
        const px = Math.min(data.width - 1, Math.max(0, Math.floor(((local.x - x) / w) * data.width)));
        const py = Math.min(data.height - 1, Math.max(0, Math.floor(((local.y - y) / h) * data.height)));
        const [r, g, bl, a] = data.context.getImageData(px, py, 1, 1).data;
        colour = [r, g, bl, a / 255];
      } else {
        if (shape instanceof SVGGeometryElement && !shape.isPointInFill(local)) continue;
        colour = fill.slice();
      }
      colour[3] *= opacity;
      if (colour[3] > 0) background = over(colour, background);
    }
    return background;
  };
  // WCAG 2.x 1.4.3: 4.5:1 for text, 3:1 for large text (at least 24 px, or 18.66 px bold).
  const requirement = (px, weight) => (px >= 24 || (px >= 18.66 && weight >= 700) ? 3 : 4.5);
  const label = (element) => {
    const text = (element.textContent || "").replace(/\s+/g, " ").trim();
    return `<${element.tagName.toLowerCase()}> ${JSON.stringify(text.slice(0, 60))}`;
  };

  // ---- Math ---------------------------------------------------------------------------------
  const math = [...document.querySelectorAll("math")].map((m) => {
    const r = m.getBoundingClientRect();
    return {
      label: label(m),
      mathml: m.namespaceURI === MATHML && m instanceof MathMLElement,
      display: getComputedStyle(m).display,
      width: r.width,
      height: r.height,
    };
  });

  // The attention formula: display math holding "Attention" and "softmax".
  let mainFormula = null;
  const formula = [...document.querySelectorAll('math[display="block"]')].find(
    (m) => m.textContent.includes("Attention") && m.textContent.includes("softmax"),
  );
  if (formula) {
    const rect = (e) => {
      const r = e.getBoundingClientRect();
      return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height };
    };
    const frac = formula.querySelector("mfrac");
    const sqrt = formula.querySelector("msqrt");
    mainFormula = {
      formula: rect(formula),
      frac: frac && rect(frac),
      numerator: frac && frac.children[0] && rect(frac.children[0]),
      denominator: frac && frac.children[1] && rect(frac.children[1]),
      sqrt: sqrt && rect(sqrt),
      radicand: sqrt && sqrt.children[0] && rect(sqrt.children[0]),
    };
  }

  // Raw TeX in the prose a reader sees (code, and math itself, excepted).
  const rawTex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(NOT_PROSE) || !parent.checkVisibility()) continue;
    for (const tex of RAW_TEX) {
      const at = node.data.indexOf(tex);
      if (at >= 0) rawTex.push(`${tex} in ${JSON.stringify(node.data.slice(Math.max(0, at - 30), at + 40))}`);
    }
  }

  // ---- Figures --------------------------------------------------------------------------------
  const figures = [];
  for (const [index, figure] of [...document.querySelectorAll(".md-typeset figure")].entries()) {
    const graphic = figure.querySelector("svg, img");
    const fr = figure.getBoundingClientRect();
    const gr = graphic ? graphic.getBoundingClientRect() : { width: 0, height: 0 };
    const caption = figure.querySelector("figcaption");
    const entry = {
      index,
      label: caption ? label(caption) : label(figure),
      visible:
        figure.checkVisibility({ opacityProperty: true, visibilityProperty: true }) &&
        !!graphic &&
        graphic.checkVisibility({ opacityProperty: true, visibilityProperty: true }),
      width: Math.min(fr.width, gr.width),
      height: Math.min(fr.height, gr.height),
      texts: 0,
      lowContrast: [],
      lowest: null,
    };
    const check = (element, colour, background, px, weight) => {
      const shown = over(colour, background);
      const ratio = contrast(shown, background);
      const needed = requirement(px, weight);
      entry.texts += 1;
      if (entry.lowest === null || ratio < entry.lowest) entry.lowest = ratio;
      if (ratio < needed) {
        entry.lowContrast.push(
          `${label(element)}: ${hex(shown)} on ${hex(background)} is ${ratio.toFixed(2)}:1, ` +
            `needs ${needed}:1 (${px.toFixed(1)} px, weight ${weight})`,
        );
      }
    };
    const svg = graphic && graphic.tagName.toLowerCase() === "svg" ? graphic : null;
    if (svg) {
      const shapes = paintedShapes(svg);
      for (const text of svg.querySelectorAll("text")) {
        if (!text.textContent.trim()) continue;
        const style = getComputedStyle(text);
        if (style.display === "none" || style.visibility !== "visible") continue;
        const colour = rgba(style.fill);
        colour[3] *= parseFloat(style.fillOpacity) * opacityUpTo(text, svg);
        const m = text.getScreenCTM();
        const scale = Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
        const background = await svgBackground(text, svg, shapes);
        check(text, colour, background, parseFloat(style.fontSize) * scale, parseInt(style.fontWeight, 10));
      }
    }
    if (caption && caption.textContent.trim()) {
      const style = getComputedStyle(caption);
      check(caption, rgba(style.color), htmlBackground(caption), parseFloat(style.fontSize), parseInt(style.fontWeight, 10));
    }
    figures.push(entry);
  }

  // ---- Links and ids ------------------------------------------------------------------------
  const links = [...document.querySelectorAll("a[href]")].map((a) => {
    const raw = a.getAttribute("href");
    return { raw, href: new URL(raw, document.baseURI).href, label: label(a) };
  });
  const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
  const names = [...document.querySelectorAll("a[name]")].map((e) => e.getAttribute("name"));

  // ---- Code blocks ----------------------------------------------------------------------------
  const codeBlocks = [...document.querySelectorAll(".md-typeset pre > code")];
  // Material mounts a code block (its copy button, its overflow check) when it comes into
  // view (mkdocs.yml: content.lazy): bring each one into view, as a reader scrolling through
  // the page would, and give the mount up to a second.
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const hasCopy = (code) => code.parentElement.querySelector("button[data-clipboard-target]");
  for (const code of codeBlocks) {
    code.scrollIntoView({ block: "center" });
    await frame();
    await frame();
  }
  for (let waited = 0; waited < 60 && !codeBlocks.every(hasCopy); waited++) await frame();
  window.scrollTo(0, 0);
  const withoutCopy = codeBlocks
    .filter((code) => !hasCopy(code))
    .map((code) => label(code));
  // A code block wider than the text column scrolls sideways: scrollWidth > clientWidth.
  // The API reference's collapsed source listings (mkdocstrings' "Source code in ...") are
  // the one exception the site allows.
  const overflowing = codeBlocks
    .filter((code) => !code.closest("details.mkdocstrings-source"))
    .filter((code) => code.scrollWidth > code.clientWidth)
    .map((code) => {
      const longest = code.textContent.split("\n").reduce((a, b) => (b.length > a.length ? b : a), "");
      return `${label(code)}: ${code.scrollWidth} px wide in ${code.clientWidth} px; ` +
        `longest line (${longest.length} characters): ${JSON.stringify(longest.slice(0, 100))}`;
    });

  return {
    title: document.title,
    pageWidth: document.documentElement.clientWidth,
    pageHeight: document.documentElement.scrollHeight,
    colorScheme: document.body.getAttribute("data-md-color-scheme"),
    background: hex(htmlBackground(document.body)),
    math,
    mainFormula,
    rawTex,
    figures,
    links,
    ids: ids.concat(names),
    codeBlocks: codeBlocks.length,
    withoutCopy,
    overflowing,
    details,
  };
}
