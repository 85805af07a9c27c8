// The public surface of totp-fleet. Re-exports only.

export * as totp from './totp.js';
export * as hotp from './hotp.js';
export * as base32 from './base32.js';
export { Base32Error } from './base32.js';
export * as otpauth from './otpauth.js';
export { OtpauthError } from './otpauth.js';
export type { OtpauthKey, OtpType, BuildOptions as OtpauthBuildOptions, ParseOptions as OtpauthParseOptions } from './otpauth.js';
export * as qr from './qr.js';
export type { QrOptions } from './qr.js';
export { generateSecret } from './secret.js';
export type { GenerateSecretOptions } from './secret.js';
export type { Algorithm } from './algorithm.js';
export { TotpVerifier } from './verifier.js';
export { KeyHandle } from './keys.js';
export type {
  VerifierOptions, VerifyRequest, VerifyResult, VerifyStatus, MalformedReason, WindowOptions,
  BatchingOptions, VerifierStats,
} from './verifier.js';
export type { TotpGenerateOptions, TimeOptions } from './totp.js';
export type { PoolOptions, PoolStats } from './pool.js';
export type { HotpGenerateOptions } from './hotp.js';
export type { CommonOptions, Digits } from './otp.js';
export type { Secret } from './secret.js';
export { TotpFleetError } from './errors.js';
export type { TotpFleetErrorCode } from './errors.js';
