// QR codes of otpauth URIs for enrolment: text for a terminal, SVG for a web page or a file.
// Encoding is the `qrcode` package's; this module only fixes the choices that matter for
// authenticator apps and keeps them in one place.

import QRCode from 'qrcode';

export interface QrOptions {
  /**
   * Error correction level: 'L', 'M' (default), 'Q' or 'H'. 'M' survives a smudged or glary
   * screen (15% of modules) while keeping a typical otpauth URI at version 5-7, which phone
   * cameras read at terminal sizes.
   */
  errorCorrection?: 'L' | 'M' | 'Q' | 'H';
}

const LEVELS = ['L', 'M', 'Q', 'H'] as const;

function level(opts: QrOptions | undefined): 'L' | 'M' | 'Q' | 'H' {
  const value = opts?.errorCorrection;
  if (value === undefined) return 'M';
  if (!(LEVELS as readonly unknown[]).includes(value)) throw new RangeError('"errorCorrection" expected one of L, M, Q, H');
  return value;
}

function checkText(text: unknown): string {
  if (typeof text !== 'string' || text.length === 0) throw new TypeError('"text" expected a non-empty string');
  return text;
}

/**
 * The QR code of `text` for a terminal: two modules per character cell (Unicode half blocks),
 * dark on a light background with the quiet zone around it, so it scans in dark and light
 * terminal themes alike.
 *
 * @example process.stdout.write(await qr.terminal(otpauth.build({ account, secret })));
 */
export async function terminal(text: string, opts?: QrOptions): Promise<string> {
  return QRCode.toString(checkText(text), { type: 'terminal', small: true, errorCorrectionLevel: level(opts) });
}

/**
 * The QR code of `text` as a standalone SVG document (black on white, 4-module quiet zone,
 * scalable: size it with CSS or the width/height attributes).
 *
 * @example await fs.writeFile('enrol.svg', await qr.svg(uri));
 */
export async function svg(text: string, opts?: QrOptions): Promise<string> {
  return QRCode.toString(checkText(text), { type: 'svg', margin: 4, errorCorrectionLevel: level(opts) });
}
