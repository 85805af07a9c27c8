// The core's exports, and nothing else: the batch ABI (layout.ts) and the kernels (verify.ts).

export {
  LAYOUT_VERSION, MAX_ITEMS, MID_STRIDE, MAX_KEY_BYTES, KEY_POOL_SIZE, MAX_WINDOW, ALG_SHA1,
  PARAM_DIGITS_SHIFT, PARAM_PAST_SHIFT, PARAM_FUTURE_SHIFT, PARAM_ALG_SHIFT,
  PARAM_MID_READY, PARAM_KEY_BAD, PARAM_SKIP, RESULT_NO_MATCH, RESULT_MALFORMED, RESULT_REPLAYED,
  FLOOR_BIAS, MID_PTR, COUNTER_PTR, CODE_PTR, PARAMS_PTR, RESULT_PTR, FLOOR_PTR, KEY_OFF_PTR, KEY_LEN_PTR,
  KEY_POOL_PTR, LAYOUT_END, layoutOk,
} from "./layout";
export { deriveKeys, verifyBatch, verifyBatchScalar, generateBatch, wipe } from "./verify";
