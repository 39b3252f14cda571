/* Word diff of two outputs, computed when a case is opened (never while writing the report).
   A token is a word or a punctuation mark with the spaces after it, so a changed phrase reads
   as one span. wordDiff(a, b) returns {old: [[op, text], ...], new: [...]} with op "eq", "del"
   or "ins", or null when the changed middle is too large to align. */
var WORD_TOKEN = /[\p{L}\p{N}\p{M}_]+\s*|[^\p{L}\p{N}\p{M}_\s]\s*|\s+/gu;
var MAX_DIFF_CELLS = 4000000;  // the LCS table is quadratic: about 2,000 x 2,000 changed tokens

function wordDiff(a, b) {
  "use strict";
  var x = a.match(WORD_TOKEN) || [], y = b.match(WORD_TOKEN) || [];
  var head = 0, tail = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) { head++; }
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) { tail++; }
  var xs = x.slice(head, x.length - tail), ys = y.slice(head, y.length - tail);
  var n = xs.length, m = ys.length, w = m + 1;
  if (n * m > MAX_DIFF_CELLS) { return null; }
  // lcs[i * w + j]: length of the longest common subsequence of xs[i:] and ys[j:].
  var lcs = new Uint16Array((n + 1) * w);
  for (var i = n - 1; i >= 0; i--) {
    for (var j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = xs[i] === ys[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  var out = { old: [], new: [] };
  function add(side, op, text) {
    var list = out[side], last = list[list.length - 1];
    if (!text) { return; }
    if (last && last[0] === op) { last[1] += text; } else { list.push([op, text]); }
  }
  var prefix = x.slice(0, head).join("");
  add("old", "eq", prefix);
  add("new", "eq", prefix);
  i = 0;
  j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && xs[i] === ys[j]) {
      add("old", "eq", xs[i++]);
      add("new", "eq", ys[j++]);
    } else if (j >= m || (i < n && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
      add("old", "del", xs[i++]);
    } else {
      add("new", "ins", ys[j++]);
    }
  }
  var suffix = x.slice(x.length - tail).join("");
  add("old", "eq", suffix);
  add("new", "eq", suffix);
  return out;
}
