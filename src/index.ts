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
export { HotpVerifier } from './hotp-verifier.js';
export type { HotpVerifierOptions, HotpRequest } from './hotp-verifier.js';
export { BackupCodes } from './backup.js';
export type { BackupCodeOptions, BackupCodeResult } from './backup.js';
export { KeyHandle } from './keys.js';
export type {
  VerifierOptions, VerifyRequest, VerifyResult, VerifyStatus, MalformedReason, WindowOptions,
  BatchingOptions, VerifierStats, PolicyStats,
} from './verifier.js';
export type { TotpGenerateOptions, TimeOptions } from './totp.js';
export type { PoolOptions, PoolStats } from './pool.js';
export type { HotpGenerateOptions } from './hotp.js';
export type { CommonOptions, Digits } from './otp.js';
export type { Secret } from './secret.js';
export { TotpFleetError } from './errors.js';
export { MemoryStore } from './store/memory.js';
export type { MemoryStoreOptions } from './store/memory.js';
export { RedisStore } from './store/redis.js';
export type { RedisStoreOptions } from './store/redis.js';
export type { Store, AttemptLimits, BeginResult, FinishOps, BackupCodeSet, BackupCodeInfo } from './store/types.js';
export type { PolicyOptions } from './policy/options.js';
export type { ClockHealth, ClockHealthOptions, ClockStatus } from './policy/clock.js';
export { AUDIT_CHANNEL, CLOCK_CHANNEL } from './policy/audit.js';
export type { AuditEvent } from './policy/audit.js';
export type { TotpFleetErrorCode } from './errors.js';
