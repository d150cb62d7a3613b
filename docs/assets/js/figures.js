/* attention-ref: figures a reader can explore. Progressive enhancement, no dependencies.
 *
 * Heatmaps (<figure data-ar-heatmap='{"panels": [...]}'>, written by
 * attention_ref_site.figures): pointing at a cell, or focusing the figure and moving with the
 * arrow keys, shows the cell's query, key and value in a live region under the figure. The
 * values are the strings the build embedded (Python's repr of each float computed by
 * attention_ref): this script only looks them up, it computes none. "Highlight row" and
 * "Highlight column" (or the R and C keys) outline the current cell's row or column.
 * One focusable element per figure and a few SVG rectangles, however many cells.
 *
 * Stepped figures (<div class="ar-frames">, see attention_ref_site.diagrams): every frame is
 * in the page, all but the first as the text of a <noscript> that this script parses when
 * the frame is shown; it shows one at a time, with Previous / Next buttons or a slider.
 *
 * Head views (<figure data-ar-headview>, attention_ref_site.diagrams.head_view): buttons pick
 * one head or all; pointing at a query token, or focusing the figure and pressing the up and
 * down arrows, keeps only that token's lines, and the live region reads the weights the build
 * wrote for it.
 *
 * Highlighted code (attention_ref_site/lazy_code.py): the page holds every listing as plain
 * text, with Pygments' highlighted spans in a <template>. A listing gets its spans when it
 * comes within a quarter of a screen of the viewport, or when the closed <details> holding
 * it is opened.
 *
 * An address of the one-page API reference of 0.2 (reference/#attention_ref.X) is sent on to
 * the object's page.
 *
 * Without JavaScript every figure is the complete static SVG (and every frame is shown).
 */
(function () {
  "use strict";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var count = 0;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function svgRect(className) {
    var rect = document.createElementNS(SVG_NS, "rect");
    rect.setAttribute("class", className);
    rect.setAttribute("display", "none");
    return rect;
  }

  function toggle(label) {
    var button = element("button", "ar-toggle", label);
    button.type = "button";
    button.setAttribute("aria-pressed", "false");
    return button;
  }

  function heatmap(figure) {
    var data;
    try {
      data = JSON.parse(figure.getAttribute("data-ar-heatmap"));
    } catch (error) {
      return;
    }
    var panels = data.panels || [];
    var svg = figure.querySelector("svg");
    if (!svg || !panels.length) return;
    count += 1;
    var id = "ar-heatmap-" + count;

    // Outlines drawn over the cells: a light and a dark line, visible on any viridis colour.
    var layer = document.createElementNS(SVG_NS, "g");
    layer.setAttribute("class", "ar-hl");
    var bandOuter = svgRect("ar-hl__outer"), bandInner = svgRect("ar-hl__inner ar-hl__band");
    var cellOuter = svgRect("ar-hl__outer"), cellInner = svgRect("ar-hl__inner");
    [bandOuter, bandInner, cellOuter, cellInner].forEach(function (r) { layer.appendChild(r); });
    svg.appendChild(layer);

    var panel = element("div", "ar-explore");
    var hint = "Point at a cell, or focus the figure and use the arrow keys, to read its value.";
    var readout = element("p", "ar-readout", hint);
    readout.id = id + "-readout";
    readout.setAttribute("aria-live", "polite");
    var rowButton = toggle("Highlight row"), colButton = toggle("Highlight column");
    var buttons = element("div", "ar-explore__buttons");
    buttons.appendChild(rowButton);
    buttons.appendChild(colButton);
    panel.appendChild(readout);
    panel.appendChild(buttons);
    svg.parentNode.insertBefore(panel, svg.nextSibling);

    var keys = element("span", "ar-visually-hidden",
      "Arrow keys move between cells, Home and End to the ends of a row, R and C highlight " +
      "the row and the column.");
    keys.id = id + "-keys";
    panel.appendChild(keys);
    svg.setAttribute("tabindex", "0");
    svg.setAttribute("aria-describedby", keys.id);
    figure.classList.add("ar-explorable");

    var pinned = null; // {p, i, j}: the cell chosen by a click or by the keyboard
    var band = null; // "row", "col" or null

    function geometry(p) {
      var box = panels[p].box, rows = panels[p].rows.length, cols = panels[p].cols.length;
      return { x0: box[0], y0: box[1], w: (box[2] - box[0]) / cols, h: (box[3] - box[1]) / rows,
        rows: rows, cols: cols };
    }

    function place(rect, x, y, w, h) {
      rect.setAttribute("x", Math.min(x, x + w));
      rect.setAttribute("y", Math.min(y, y + h));
      rect.setAttribute("width", Math.abs(w));
      rect.setAttribute("height", Math.abs(h));
      rect.removeAttribute("display");
    }

    function hide(rect) { rect.setAttribute("display", "none"); }

    function show(cell) {
      if (!cell) {
        [bandOuter, bandInner, cellOuter, cellInner].forEach(hide);
        readout.textContent = hint;
        return;
      }
      var g = geometry(cell.p), d = panels[cell.p];
      var x = g.x0 + cell.j * g.w, y = g.y0 + cell.i * g.h;
      place(cellOuter, x, y, g.w, g.h);
      place(cellInner, x, y, g.w, g.h);
      if (band === "row") {
        place(bandOuter, g.x0, y, g.w * g.cols, g.h);
        place(bandInner, g.x0, y, g.w * g.cols, g.h);
      } else if (band === "col") {
        place(bandOuter, x, g.y0, g.w, g.h * g.rows);
        place(bandInner, x, g.y0, g.w, g.h * g.rows);
      } else {
        hide(bandOuter);
        hide(bandInner);
      }
      var value = d.v[cell.i][cell.j];
      readout.textContent = (d.title ? d.title + ": " : "") +
        d.row + " \u201c" + d.rows[cell.i] + "\u201d, " +
        d.col + " \u201c" + d.cols[cell.j] + "\u201d, " +
        d.value + " " + (value === null ? "none (blank cell)" : value);
    }

    function cellAt(event) {
      var matrix = svg.getScreenCTM();
      if (!matrix) return null;
      var point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
      for (var p = 0; p < panels.length; p += 1) {
        var g = geometry(p);
        var j = Math.floor((point.x - g.x0) / g.w), i = Math.floor((point.y - g.y0) / g.h);
        if (i >= 0 && i < g.rows && j >= 0 && j < g.cols) return { p: p, i: i, j: j };
      }
      return null;
    }

    svg.addEventListener("pointermove", function (event) { show(cellAt(event) || pinned); });
    svg.addEventListener("pointerleave", function () { show(pinned); });
    svg.addEventListener("click", function (event) {
      var cell = cellAt(event);
      if (cell) pinned = cell;
      show(pinned);
    });
    svg.addEventListener("focus", function () {
      if (!pinned) pinned = { p: 0, i: 0, j: 0 };
      show(pinned);
    });

    function setBand(which) {
      band = band === which ? null : which;
      rowButton.setAttribute("aria-pressed", String(band === "row"));
      colButton.setAttribute("aria-pressed", String(band === "col"));
      if (!pinned) pinned = { p: 0, i: 0, j: 0 };
      show(pinned);
    }
    rowButton.addEventListener("click", function () { setBand("row"); });
    colButton.addEventListener("click", function () { setBand("col"); });

    svg.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      var c = pinned || { p: 0, i: 0, j: 0 };
      var p = c.p, i = c.i, j = c.j, g = geometry(p);
      switch (event.key) {
        case "ArrowRight":
          if (j + 1 < g.cols) j += 1;
          else if (p + 1 < panels.length) { p += 1; j = 0; }
          break;
        case "ArrowLeft":
          if (j > 0) j -= 1;
          else if (p > 0) { p -= 1; j = geometry(p).cols - 1; }
          break;
        case "ArrowDown": i = Math.min(i + 1, g.rows - 1); break;
        case "ArrowUp": i = Math.max(i - 1, 0); break;
        case "Home": j = 0; break;
        case "End": j = g.cols - 1; break;
        case "r": case "R": setBand("row"); event.preventDefault(); return;
        case "c": case "C": setBand("col"); event.preventDefault(); return;
        default: return;
      }
      event.preventDefault();
      i = Math.min(i, geometry(p).rows - 1);
      pinned = { p: p, i: i, j: j };
      show(pinned);
    });
  }

  function frames(container) {
    var items = Array.prototype.slice.call(container.querySelectorAll(".ar-frame"));
    if (items.length < 2) return;
    var slider = container.getAttribute("data-ar-control") === "slider";
    var label = container.getAttribute("data-ar-label") || "Step";
    var current = 0;
    var bar = element("div", "ar-frames__controls");
    var status = element("p", "ar-frames__status");
    status.setAttribute("aria-live", "polite");
    var previous, next, range;
    if (slider) {
      range = element("input", "ar-frames__range");
      range.type = "range";
      range.min = "0";
      range.max = String(items.length - 1);
      range.step = "1";
      range.value = "0";
      range.setAttribute("aria-label", label);
      bar.appendChild(range);
      range.addEventListener("input", function () { go(Number(range.value)); });
    } else {
      previous = element("button", "ar-toggle", "\u2190 Previous");
      next = element("button", "ar-toggle", "Next \u2192");
      previous.type = next.type = "button";
      bar.appendChild(previous);
      bar.appendChild(next);
      previous.addEventListener("click", function () { go(current - 1); });
      next.addEventListener("click", function () { go(current + 1); });
    }
    bar.appendChild(status);
    container.insertBefore(bar, container.firstChild);
    container.classList.add("ar-frames--js");

    function go(k) {
      current = Math.max(0, Math.min(items.length - 1, k));
      // a frame not yet shown is the text of a <noscript> (diagrams.frames): parse it now
      var waiting = items[current].querySelector(":scope > noscript");
      if (waiting) {
        items[current].innerHTML = waiting.textContent;
        enhance(items[current]);
      }
      items.forEach(function (item, n) { item.hidden = n !== current; });
      var title = items[current].getAttribute("data-ar-title") || "";
      status.textContent = label + " " + (current + 1) + " of " + items.length +
        (title ? ": " + title : "");
      if (previous) {
        previous.disabled = current === 0;
        next.disabled = current === items.length - 1;
      }
      if (range) {
        range.value = String(current);
        range.setAttribute("aria-valuetext", title || String(current + 1));
      }
    }
    go(Number(container.getAttribute("data-ar-start") || 0));
  }

  function headView(figure) {
    var data;
    try {
      data = JSON.parse(figure.getAttribute("data-ar-headview"));
    } catch (error) {
      return;
    }
    var svg = figure.querySelector("svg");
    if (!svg) return;
    count += 1;
    var lines = Array.prototype.slice.call(svg.querySelectorAll("path[data-h]"));
    var tokens = Array.prototype.slice.call(svg.querySelectorAll("text.ar-hv-q"));
    var head = null; // null: all heads
    var query = null; // null: every query
    var panel = element("div", "ar-explore");
    var hint = "Point at a token on the left, or focus the figure and use the up and down " +
      "arrow keys, to see where it looks.";
    var readout = element("p", "ar-readout", hint);
    readout.setAttribute("aria-live", "polite");
    var buttons = element("div", "ar-explore__buttons");
    var all = toggle("All heads");
    var headButtons = [all];
    buttons.appendChild(all);
    all.addEventListener("click", function () { head = null; update(); });
    data.heads.forEach(function (name, h) {
      if (data.heads.length < 2) return;
      var button = toggle(name);
      headButtons.push(button);
      buttons.appendChild(button);
      button.addEventListener("click", function () { head = h; update(); });
    });
    panel.appendChild(readout);
    if (data.heads.length > 1) panel.appendChild(buttons); // one head: nothing to choose
    var keys = element("span", "ar-visually-hidden",
      "Up and down arrow keys choose a query token; Escape shows all of them.");
    keys.id = "ar-headview-" + count + "-keys";
    panel.appendChild(keys);
    svg.parentNode.insertBefore(panel, svg.nextSibling);
    svg.setAttribute("tabindex", "0");
    svg.setAttribute("aria-describedby", keys.id);
    figure.classList.add("ar-explorable");

    function update() {
      lines.forEach(function (line) {
        var show = (head === null || Number(line.getAttribute("data-h")) === head) &&
          (query === null || Number(line.getAttribute("data-i")) === query);
        if (show) line.removeAttribute("display");
        else line.setAttribute("display", "none");
      });
      tokens.forEach(function (token, i) {
        token.setAttribute("font-weight", i === query ? "bold" : "normal");
      });
      headButtons.forEach(function (button, n) {
        button.setAttribute("aria-pressed", String(n === 0 ? head === null : head === n - 1));
      });
      if (query === null) readout.textContent = hint;
      else if (head === null) {
        readout.textContent = data.text.map(function (t) { return t[query]; }).join("; ");
      } else readout.textContent = data.text[head][query];
    }

    function queryAt(event) {
      var matrix = svg.getScreenCTM();
      if (!matrix) return null;
      var point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
      var best = null, distance = Infinity;
      tokens.forEach(function (token, i) {
        var y = Number(token.getAttribute("y")) - 4;
        if (Math.abs(point.y - y) < distance) { distance = Math.abs(point.y - y); best = i; }
      });
      return distance <= 9 ? best : null;
    }
    svg.addEventListener("pointermove", function (event) {
      var i = queryAt(event);
      if (i !== null && i !== query) { query = i; update(); }
    });
    svg.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") query = query === null ? 0 : Math.min(query + 1, tokens.length - 1);
      else if (event.key === "ArrowUp") query = query === null ? 0 : Math.max(query - 1, 0);
      else if (event.key === "Escape") query = null;
      else return;
      event.preventDefault();
      update();
    });
    update();
  }

  function highlightCode(root) {
    Array.prototype.forEach.call(root.querySelectorAll("template.ar-code"), function (t) {
      var code = t.parentNode.querySelector("code"); // Material may add its buttons after it
      if (code) code.replaceChildren(t.content.cloneNode(true));
      t.remove();
    });
  }

  function lazyCode() {
    var listings = Array.prototype.map.call(
      document.querySelectorAll(".md-typeset pre > template.ar-code"),
      function (t) { return t.parentNode; }
    );
    if (!("IntersectionObserver" in window)) {
      listings.forEach(highlightCode);
      return;
    }
    // A listing in a closed <details> has no box, so it never intersects: the toggle does it.
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        observer.unobserve(entry.target);
        highlightCode(entry.target);
      });
    }, { rootMargin: "25% 0px" });
    listings.forEach(function (pre) { observer.observe(pre); });
    Array.prototype.forEach.call(document.querySelectorAll(".md-typeset details"), function (d) {
      d.addEventListener("toggle", function () { if (d.open) highlightCode(d); });
    });
  }

  // The API reference was one page: an old address of an object (reference/#attention_ref.X)
  // goes on to the object's page, through the link to it on this page (the overview's table).
  function oldAnchor() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (id.indexOf("attention_ref.") !== 0 || document.getElementById(id)) return;
    var links = document.querySelectorAll(".md-typeset a[href]");
    for (var i = 0; i < links.length; i++) {
      if (decodeURIComponent(links[i].hash) === "#" + id) {
        location.replace(links[i].href);
        return;
      }
    }
  }

  // The API reference renders an object's documentation only as it nears the screen
  // (site.css: content-visibility), so the browser's jump to an anchor inside one (a class's
  // method: #attention_ref.KVCache.update) can stop short while the blocks are still at their
  // estimated heights, and they change as they render. After the page has loaded (and after
  // a jump within it), jump again on each of the next frames for half a second, unless the
  // reader scrolls, types or touches first.
  function settleAnchor() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    if (!target || !target.closest(".doc-contents")) return;
    var READER = ["wheel", "touchstart", "keydown", "pointerdown"];
    var frames = 0;
    var stopped = false;
    var stop = function () {
      stopped = true;
      READER.forEach(function (type) { window.removeEventListener(type, stop); });
    };
    READER.forEach(function (type) { window.addEventListener(type, stop, { passive: true }); });
    (function step() {
      if (stopped) return;
      target.scrollIntoView();
      if (++frames < 30) requestAnimationFrame(step);
      else stop();
    })();
  }

  function init() {
    oldAnchor();
    if (document.readyState === "complete") settleAnchor();
    else window.addEventListener("load", settleAnchor);
    window.addEventListener("hashchange", settleAnchor);
    lazyCode();
    enhance(document);
  }

  // the explorable figures under root (the page, or a frame just parsed)
  function enhance(root) {
    Array.prototype.forEach.call(root.querySelectorAll("figure[data-ar-heatmap]"), heatmap);
    Array.prototype.forEach.call(root.querySelectorAll(".ar-frames"), frames);
    Array.prototype.forEach.call(root.querySelectorAll("figure[data-ar-headview]"), headView);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
