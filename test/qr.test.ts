// QR codes are checked by reading them back: the terminal text and the SVG are turned into
// pixels and decoded with jsQR, an independent reader, which must find the exact URI.

import jsQRModule from 'jsqr';
import { describe, expect, it } from 'vitest';
import { generateSecret, otpauth, qr } from '../src/index.js';

// jsqr is CommonJS with an ES-style `export default` in its types: under NodeNext the default
// import is module.exports, which carries the function both as itself and as `.default`.
type JsQR = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR = (jsQRModule as unknown as { default: JsQR }).default;

/** Light/dark modules → an RGBA image (4 pixels per module), decoded with jsQR. */
function read(modules: boolean[][]): string | undefined {
  const scale = 4;
  const h = modules.length * scale;
  const w = Math.max(...modules.map((r) => r.length)) * scale;
  const rgba = new Uint8ClampedArray(w * h * 4).fill(255);
  modules.forEach((row, y) => row.forEach((dark, x) => {
    if (!dark) return;
    for (let dy = 0; dy < scale; dy++) {
      for (let dx = 0; dx < scale; dx++) rgba.fill(0, ((y * scale + dy) * w + x * scale + dx) * 4, ((y * scale + dy) * w + x * scale + dx) * 4 + 3);
    }
  }));
  return jsQR(rgba, w, h)?.data;
}

/**
 * Half-block terminal text → modules: each character cell is two modules, top and bottom,
 * drawn in the foreground colour where the block is and the background colour elsewhere.
 * The colours are followed through the ANSI codes (30 black, 37 white, 47 white background,
 * 0 reset): an odd last row is drawn as white upper halves on the terminal's own background.
 */
function terminalModules(text: string): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of text.split('\n')) {
    let fgDark = false;
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    // eslint-disable-next-line no-control-regex
    for (const [, codes, c] of line.matchAll(/\x1b\[([0-9;]*)m|(.)/gu)) {
      if (codes !== undefined) {
        for (const code of codes.split(';')) {
          if (code === '30') fgDark = true;
          else if (code === '37' || code === '0') fgDark = false;
          else if (code !== '47') throw new Error(`unexpected ANSI code ${code}`);
        }
        continue;
      }
      if (!' ▀▄█'.includes(c!)) throw new Error(`unexpected character U+${c!.codePointAt(0)!.toString(16)}`);
      // The background is always light (white, or the terminal's own outside the code).
      top.push(fgDark && (c === '▀' || c === '█'));
      bottom.push(fgDark && (c === '▄' || c === '█'));
    }
    if (top.length > 0) rows.push(top, bottom);
  }
  return rows;
}

/** The dark-module path of the SVG (M/m moves, h runs) → modules. */
function svgModules(svg: string): boolean[][] {
  const size = Number(/viewBox="0 0 (\d+) \d+"/.exec(svg)![1]);
  const d = /<path stroke="#000000" d="([^"]+)"/.exec(svg)![1]!;
  const rows = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  let x = 0;
  let y = 0;
  for (const [, op, a, b] of d.matchAll(/([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?/g)) {
    if (op === 'M') [x, y] = [Number(a), Number(b)];
    else if (op === 'm') [x, y] = [x + Number(a), y + Number(b)];
    else {
      for (let i = 0; i < Number(a); i++) rows[Math.floor(y)]![x + i] = true;
      x += Number(a);
    }
  }
  return rows;
}

describe('QR codes of otpauth URIs', () => {
  const uris = [
    otpauth.build({ account: 'alice@example.com', issuer: 'Example Co', secret: generateSecret() }),
    otpauth.build({ account: 'jürgen@müller.de', issuer: 'Müller: Hosting', secret: generateSecret({ algorithm: 'SHA512' }), algorithm: 'SHA512', digits: 8 }),
  ];

  it.each(uris.map((u, i) => [i, u] as const))('terminal text decodes to the URI (%i)', async (_, uri) => {
    const text = await qr.terminal(uri);
    expect(read(terminalModules(text))).toBe(uri);
    // Dark on light with explicit colours, so it scans in dark terminal themes too.
    expect(text).toContain('\x1b[47m');
  });

  it.each(uris.map((u, i) => [i, u] as const))('SVG decodes to the URI (%i)', async (_, uri) => {
    const svg = await qr.svg(uri, { errorCorrection: 'Q' });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(read(svgModules(svg))).toBe(uri);
  });

  it('the decoders are not fooled: a different URI reads differently', async () => {
    const other = await qr.svg(uris[0]!.replace('alice', 'alicf'));
    expect(read(svgModules(other))).not.toBe(uris[0]);
  });

  it('refuses bad input', async () => {
    await expect(qr.terminal('')).rejects.toThrow(TypeError);
    await expect(qr.svg(42 as unknown as string)).rejects.toThrow(/"text" expected a non-empty string/);
    await expect(qr.svg('x', { errorCorrection: 'Z' as 'L' })).rejects.toThrow(RangeError);
  });
});
