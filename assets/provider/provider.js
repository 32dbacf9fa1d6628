// pkg/wasimoff_provider_core.js
var Session = class {
  __destroy_into_raw() {
    const ptr = this.__wbg_ptr;
    this.__wbg_ptr = 0;
    SessionFinalization.unregister(this);
    return ptr;
  }
  free() {
    const ptr = this.__destroy_into_raw();
    wasm.__wbg_session_free(ptr, 0);
  }
  /**
   * A task exited: the frames to send now (an array, empty while the result is held back
   * with others, see [`Session::flush`]). `artifacts` is `null` when none were requested,
   * else an array of `{path, data}` (`data` null for a folder). Call after
   * [`Session::finished`] for the task.
   * @param {number} id
   * @param {number} status
   * @param {Uint8Array | number[]} stdout
   * @param {Uint8Array | number[]} stderr
   * @param {any} artifacts
   * @param {string[]} missing
   * @param {number} artifact_limit
   * @param {number} elapsed_us
   * @returns {any}
   */
  exited(id, status, stdout, stderr, artifacts, missing, artifact_limit, elapsed_us) {
    const val4 = +id;
    const val5 = +status;
    const val6 = +artifact_limit;
    const val7 = +elapsed_us;
    let ptr0, len0, ptr1, len1, ptr2, len2;
    try {
      ptr0 = passArray8ToWasm0(stdout, wasm.__wbindgen_malloc);
      len0 = WASM_VECTOR_LEN;
      ptr1 = passArray8ToWasm0(stderr, wasm.__wbindgen_malloc);
      len1 = WASM_VECTOR_LEN;
      ptr2 = passArrayJsValueToWasm0(missing, wasm.__wbindgen_malloc);
      len2 = WASM_VECTOR_LEN;
    } catch (e) {
      if (ptr2) {
        wasm.__externref_drop_slice(ptr2, len2);
        wasm.__wbindgen_free(ptr2, len2 * 4, 4);
      }
      if (ptr1) {
        wasm.__wbindgen_free(ptr1, len1 * 1, 1);
      }
      if (ptr0) {
        wasm.__wbindgen_free(ptr0, len0 * 1, 1);
      }
      throw e;
    }
    const ret = wasm.session_exited(this.__wbg_ptr, val4, val5, ptr0, len0, ptr1, len1, artifacts, ptr2, len2, val6, val7);
    if (ret[2]) {
      throw takeFromExternrefTable0(ret[1]);
    }
    return takeFromExternrefTable0(ret[0]);
  }
  /**
   * A task did not run to an exit status: the frames to send now, as [`Session::exited`];
   * `kind` is one of [`error_kinds`]' values, anything else is an error.
   * @param {number} id
   * @param {string} kind
   * @param {string} message
   * @param {Uint8Array | number[]} stdout
   * @param {Uint8Array | number[]} stderr
   * @returns {any}
   */
  failed(id, kind, message, stdout, stderr) {
    const val5 = +id;
    let ptr0, len0, ptr1, len1, ptr2, len2, ptr3, len3;
    try {
      ptr0 = passStringToWasm0(kind, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
      len0 = WASM_VECTOR_LEN;
      ptr1 = passStringToWasm0(message, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
      len1 = WASM_VECTOR_LEN;
      ptr2 = passArray8ToWasm0(stdout, wasm.__wbindgen_malloc);
      len2 = WASM_VECTOR_LEN;
      ptr3 = passArray8ToWasm0(stderr, wasm.__wbindgen_malloc);
      len3 = WASM_VECTOR_LEN;
    } catch (e) {
      if (ptr3) {
        wasm.__wbindgen_free(ptr3, len3 * 1, 1);
      }
      if (ptr2) {
        wasm.__wbindgen_free(ptr2, len2 * 1, 1);
      }
      if (ptr1) {
        wasm.__wbindgen_free(ptr1, len1 * 1, 1);
      }
      if (ptr0) {
        wasm.__wbindgen_free(ptr0, len0 * 1, 1);
      }
      throw e;
    }
    const ret = wasm.session_failed(this.__wbg_ptr, val5, ptr0, len0, ptr1, len1, ptr2, len2, ptr3, len3);
    if (ret[2]) {
      throw takeFromExternrefTable0(ret[1]);
    }
    return takeFromExternrefTable0(ret[0]);
  }
  /**
   * Task `id` ended or was stopped: the actions (`run`) of the next waiting task, if any.
   * @param {number} id
   * @returns {any}
   */
  finished(id) {
    const ret = wasm.session_finished(this.__wbg_ptr, id);
    if (ret[2]) {
      throw takeFromExternrefTable0(ret[1]);
    }
    return takeFromExternrefTable0(ret[0]);
  }
  /**
   * The results held back, as one frame to send, or `undefined`.
   * @returns {Uint8Array | undefined}
   */
  flush() {
    const ret = wasm.session_flush(this.__wbg_ptr);
    let v1;
    if (ret[0] !== 0) {
      v1 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
      wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
    }
    return v1;
  }
  /**
   * Forgets a module (it failed to compile) and returns the frame telling the broker.
   * @param {string} digest
   * @returns {Uint8Array}
   */
  forget(digest) {
    const ptr0 = passStringToWasm0(digest, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
    const len0 = WASM_VECTOR_LEN;
    const ret = wasm.session_forget(this.__wbg_ptr, ptr0, len0);
    var v2 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
    wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
    return v2;
  }
  /**
   * The hello frame.
   * @param {string} name
   * @param {number} workers
   * @returns {Uint8Array}
   */
  hello(name, workers) {
    const val2 = +workers;
    const ptr0 = passStringToWasm0(name, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
    const len0 = WASM_VECTOR_LEN;
    const ret = wasm.session_hello(this.__wbg_ptr, ptr0, len0, val2);
    var v3 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
    wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
    return v3;
  }
  /**
   * Whether results are held back, to go out with the next or from [`Session::flush`].
   * @returns {boolean}
   */
  get holding() {
    const ret = wasm.session_holding(this.__wbg_ptr);
    return ret !== 0;
  }
  /**
   * Whether task `id` was handed over as `run` and is neither finished nor cancelled.
   * @param {number} id
   * @returns {boolean}
   */
  isRunning(id) {
    const ret = wasm.session_isRunning(this.__wbg_ptr, id);
    return ret !== 0;
  }
  /**
   * A session that keeps at most `cached_modules` compiled modules, for `slots` workers:
   * tasks beyond them wait in the core until [`Session::finished`] frees a worker.
   * @param {number} cached_modules
   * @param {number} slots
   */
  constructor(cached_modules, slots) {
    const ret = wasm.session_new(cached_modules, slots);
    this.__wbg_ptr = ret;
    SessionFinalization.register(this, this.__wbg_ptr, this);
    return this;
  }
  /**
   * Tasks running plus tasks waiting for a worker.
   * @returns {number}
   */
  pending() {
    const ret = wasm.session_pending(this.__wbg_ptr);
    return ret >>> 0;
  }
  /**
   * Handles a frame from the broker: an array of actions
   * (`welcome`, `refused`, `send`, `cancel`, `evict`, `module`, `run`) to carry out in order.
   * @param {Uint8Array | number[]} frame
   * @returns {any}
   */
  receive(frame) {
    const ptr0 = passArray8ToWasm0(frame, wasm.__wbindgen_malloc);
    const len0 = WASM_VECTOR_LEN;
    const ret = wasm.session_receive(this.__wbg_ptr, ptr0, len0);
    if (ret[2]) {
      throw takeFromExternrefTable0(ret[1]);
    }
    return takeFromExternrefTable0(ret[0]);
  }
  /**
   * The longest a result may be held back: call [`Session::flush`] this many ms after
   * [`Session::exited`] or [`Session::failed`] sent nothing.
   * @returns {number}
   */
  get resultHoldMs() {
    const ret = wasm.session_result_hold_ms(this.__wbg_ptr);
    return ret >>> 0;
  }
  /**
   * The pool now has `slots` workers: the actions (`run`) of waiting tasks that start now.
   * @param {number} slots
   * @returns {any}
   */
  setSlots(slots) {
    const ret = wasm.session_setSlots(this.__wbg_ptr, slots);
    if (ret[2]) {
      throw takeFromExternrefTable0(ret[1]);
    }
    return takeFromExternrefTable0(ret[0]);
  }
  /**
   * The frame announcing `count` workers (0 while paused).
   * @param {number} count
   * @returns {Uint8Array}
   */
  workers(count) {
    const ret = wasm.session_workers(this.__wbg_ptr, count);
    var v1 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
    wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
    return v1;
  }
};
if (Symbol.dispose) Session.prototype[Symbol.dispose] = Session.prototype.free;
function errorKinds() {
  const ret = wasm.errorKinds();
  if (ret[2]) {
    throw takeFromExternrefTable0(ret[1]);
  }
  return takeFromExternrefTable0(ret[0]);
}
function __wbg_get_imports() {
  const import0 = {
    __proto__: null,
    __wbg_Error_208446807d0d1e30: function(arg0, arg1) {
      const ret = Error(getStringFromWasm0(arg0, arg1));
      return ret;
    },
    __wbg_Number_ff192a72a0dcdf6d: function(arg0) {
      const ret = Number(arg0);
      return ret;
    },
    __wbg_String_8564e559799eccda: function(arg0, arg1) {
      const ret = String(arg1);
      const ptr1 = passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
      const len1 = WASM_VECTOR_LEN;
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
    },
    __wbg___wbindgen_boolean_get_4f1baf9a00be3c74: function(arg0) {
      const v = arg0;
      const ret = typeof v === "boolean" ? v : void 0;
      return isLikeNone(ret) ? 16777215 : ret ? 1 : 0;
    },
    __wbg___wbindgen_debug_string_f249a2a76caa9a55: function(arg0, arg1) {
      const ret = debugString(arg1);
      const ptr1 = passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
      const len1 = WASM_VECTOR_LEN;
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
    },
    __wbg___wbindgen_in_3f58a9d3b3a7eed2: function(arg0, arg1) {
      const ret = arg0 in arg1;
      return ret;
    },
    __wbg___wbindgen_is_function_741ff2bb612836f5: function(arg0) {
      const ret = typeof arg0 === "function";
      return ret;
    },
    __wbg___wbindgen_is_object_8b968c3ab8e96595: function(arg0) {
      const val = arg0;
      const ret = typeof val === "object" && val !== null;
      return ret;
    },
    __wbg___wbindgen_is_string_fc456fee5d3317de: function(arg0) {
      const ret = typeof arg0 === "string";
      return ret;
    },
    __wbg___wbindgen_is_undefined_be5b34249ff1fc15: function(arg0) {
      const ret = arg0 === void 0;
      return ret;
    },
    __wbg___wbindgen_jsval_loose_eq_b2f214e2e4b30e36: function(arg0, arg1) {
      const ret = arg0 == arg1;
      return ret;
    },
    __wbg___wbindgen_number_get_934b640d0889af78: function(arg0, arg1) {
      const obj = arg1;
      const ret = typeof obj === "number" ? obj : void 0;
      getDataViewMemory0().setFloat64((arg0 >>> 0) + 8 * 1, isLikeNone(ret) ? 0 : ret, true);
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, !isLikeNone(ret), true);
    },
    __wbg___wbindgen_string_get_7ce8eee7fd327545: function(arg0, arg1) {
      const obj = arg1;
      const ret = typeof obj === "string" ? obj : void 0;
      var ptr1 = isLikeNone(ret) ? 0 : passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
      var len1 = WASM_VECTOR_LEN;
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
    },
    __wbg___wbindgen_throw_4c88d8bf264fd984: function(arg0, arg1) {
      throw new Error(getStringFromWasm0(arg0, arg1));
    },
    __wbg_call_40b008ba32f73991: function() {
      return handleError(function(arg0, arg1) {
        const ret = arg0.call(arg1);
        return ret;
      }, arguments);
    },
    __wbg_done_57e08d0be6e30c02: function(arg0) {
      const ret = arg0.done;
      return ret;
    },
    __wbg_freeze_4ee197e8446c892f: function(arg0) {
      const ret = Object.freeze(arg0);
      return ret;
    },
    __wbg_from_eac91875c8a5ffa4: function(arg0) {
      const ret = Array.from(arg0);
      return ret;
    },
    __wbg_getRandomValues_8b6f1f663e6f188d: function() {
      return handleError(function(arg0, arg1) {
        globalThis.crypto.getRandomValues(getArrayU8FromWasm0(arg0, arg1));
      }, arguments);
    },
    __wbg_get_635eea311fa1a291: function() {
      return handleError(function(arg0, arg1) {
        const ret = Reflect.get(arg0, arg1);
        return ret;
      }, arguments);
    },
    __wbg_get_unchecked_e6325ad374eff861: function(arg0, arg1) {
      const ret = arg0[arg1 >>> 0];
      return ret;
    },
    __wbg_get_with_ref_key_fc601247060b7204: function(arg0, arg1) {
      const ret = arg0[arg1];
      return ret;
    },
    __wbg_instanceof_ArrayBuffer_12cdaa4161423e6b: function(arg0) {
      let result;
      try {
        result = arg0 instanceof ArrayBuffer;
      } catch (_) {
        result = false;
      }
      const ret = result;
      return ret;
    },
    __wbg_instanceof_Uint8Array_d7aeb0dcb3108fea: function(arg0) {
      let result;
      try {
        result = arg0 instanceof Uint8Array;
      } catch (_) {
        result = false;
      }
      const ret = result;
      return ret;
    },
    __wbg_isArray_bcf1376d0d732d08: function(arg0) {
      const ret = Array.isArray(arg0);
      return ret;
    },
    __wbg_isSafeInteger_1a35ba4d31e71d38: function(arg0) {
      const ret = Number.isSafeInteger(arg0);
      return ret;
    },
    __wbg_iterator_e4c5e8f68ada7b58: function() {
      const ret = Symbol.iterator;
      return ret;
    },
    __wbg_length_186163212ffe79c3: function(arg0) {
      const ret = arg0.length;
      return ret;
    },
    __wbg_length_b03a0fabb109b1e9: function(arg0) {
      const ret = arg0.length;
      return ret;
    },
    __wbg_new_13de428334042d26: function(arg0) {
      const ret = new Uint8Array(arg0);
      return ret;
    },
    __wbg_new_37eb45aaf5eeb820: function() {
      const ret = new Array();
      return ret;
    },
    __wbg_new_7075786089b89c5e: function() {
      const ret = /* @__PURE__ */ new Map();
      return ret;
    },
    __wbg_new_cd4348290afae586: function() {
      const ret = new Object();
      return ret;
    },
    __wbg_next_178c1651c11432b3: function(arg0) {
      const ret = arg0.next;
      return ret;
    },
    __wbg_next_af5ac6a08bb0a717: function() {
      return handleError(function(arg0) {
        const ret = arg0.next();
        return ret;
      }, arguments);
    },
    __wbg_prototypesetcall_13162965d1fe7aa3: function(arg0, arg1, arg2) {
      Uint8Array.prototype.set.call(getArrayU8FromWasm0(arg0, arg1), arg2);
    },
    __wbg_set_8282f7e0d2d01336: function(arg0, arg1, arg2) {
      const ret = arg0.set(arg1, arg2);
      return ret;
    },
    __wbg_set_d2d33b52458e984a: function(arg0, arg1, arg2) {
      arg0[arg1 >>> 0] = arg2;
    },
    __wbg_set_e4b9a833d288759a: function(arg0, arg1, arg2) {
      arg0[arg1] = arg2;
    },
    __wbg_value_e0f328965e184931: function(arg0) {
      const ret = arg0.value;
      return ret;
    },
    __wbindgen_generic_0000000000000001: function(arg0) {
      const ret = arg0;
      return ret;
    },
    __wbindgen_generic_0000000000000002: function(arg0, arg1) {
      const ret = getArrayU8FromWasm0(arg0, arg1);
      return ret;
    },
    __wbindgen_generic_0000000000000003: function(arg0, arg1) {
      const ret = getStringFromWasm0(arg0, arg1);
      return ret;
    },
    __wbindgen_generic_0000000000000004: function(arg0) {
      const ret = BigInt.asUintN(64, arg0);
      return ret;
    },
    __wbindgen_init_externref_table: function() {
      const table = wasm.__wbindgen_externrefs;
      table.set(0, void 0);
      table.set(1024, void 0);
      table.set(1025, null);
      table.set(1026, true);
      table.set(1027, false);
    }
  };
  return {
    __proto__: null,
    "./wasimoff_provider_core_bg.js": import0
  };
}
var SessionFinalization = typeof FinalizationRegistry === "undefined" ? { register: () => {
}, unregister: () => {
} } : new FinalizationRegistry((ptr) => wasm.__wbg_session_free(ptr, 1));
function addToExternrefTable0(obj) {
  const idx = wasm.__externref_table_alloc();
  wasm.__wbindgen_externrefs.set(idx, obj);
  return idx;
}
function debugString(val) {
  switch (typeof val) {
    // primitive types
    case "number":
    case "boolean":
    case "undefined":
      return `${val}`;
    case "string":
      return JSON.stringify(val);
    case "bigint":
      return `${val}n`;
    case "symbol":
      return val.description !== void 0 ? `Symbol(${val.description})` : "Symbol";
    case "function":
      return typeof val.name === "string" && val.name !== "" ? `Function(${val.name})` : "Function";
    case "object": {
      if (val === null) {
        return "null";
      }
      if (Array.isArray(val)) {
        return "[" + Array.from(val, debugString).join(", ") + "]";
      }
      if (val instanceof Error) {
        return `${val.name}: ${val.message}
${val.stack}`;
      }
      const toStringOutput = toString.call(val);
      const className = /\[object ([^\]]+)\]/.exec(toStringOutput)?.[1];
      if (className === void 0) {
        return toStringOutput;
      }
      if (className === "Object") {
        try {
          return "Object(" + JSON.stringify(val) + ")";
        } catch (_) {
          return "Object";
        }
      }
      return className;
    }
  }
}
function getArrayU8FromWasm0(ptr, len) {
  ptr = ptr >>> 0;
  return getUint8ArrayMemory0().subarray(ptr / 1, ptr / 1 + len);
}
var cachedDataViewMemory0 = null;
function getDataViewMemory0() {
  if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer.detached === true || cachedDataViewMemory0.buffer.detached === void 0 && cachedDataViewMemory0.buffer !== wasm.memory.buffer) {
    cachedDataViewMemory0 = new DataView(wasm.memory.buffer);
  }
  return cachedDataViewMemory0;
}
function getStringFromWasm0(ptr, len) {
  ptr = ptr >>> 0;
  return decodeText(getUint8ArrayMemory0().subarray(ptr, ptr + len));
}
var cachedUint8ArrayMemory0 = null;
function getUint8ArrayMemory0() {
  if (cachedUint8ArrayMemory0 === null || cachedUint8ArrayMemory0.byteLength === 0) {
    cachedUint8ArrayMemory0 = new Uint8Array(wasm.memory.buffer);
  }
  return cachedUint8ArrayMemory0;
}
function handleError(f, args) {
  try {
    return f.apply(this, args);
  } catch (e) {
    const idx = addToExternrefTable0(e);
    wasm.__wbindgen_exn_store(idx);
  }
}
function isLikeNone(x) {
  return x === void 0 || x === null;
}
function passArray8ToWasm0(arg, malloc) {
  const ptr = malloc(arg.length * 1, 1) >>> 0;
  getUint8ArrayMemory0().set(arg, ptr / 1);
  WASM_VECTOR_LEN = arg.length;
  return ptr;
}
function passArrayJsValueToWasm0(array, malloc) {
  const ptr = malloc(array.length * 4, 4) >>> 0;
  for (let i = 0; i < array.length; i++) {
    const add = addToExternrefTable0(array[i]);
    getDataViewMemory0().setUint32(ptr + 4 * i, add, true);
  }
  WASM_VECTOR_LEN = array.length;
  return ptr;
}
function passStringToWasm0(arg, malloc, realloc) {
  if (realloc === void 0) {
    const buf = cachedTextEncoder.encode(arg);
    const ptr2 = malloc(buf.length, 1) >>> 0;
    getUint8ArrayMemory0().subarray(ptr2, ptr2 + buf.length).set(buf);
    WASM_VECTOR_LEN = buf.length;
    return ptr2;
  }
  let len = arg.length;
  let ptr = malloc(len, 1) >>> 0;
  const mem = getUint8ArrayMemory0();
  let offset = 0;
  for (; offset < len; offset++) {
    const code = arg.charCodeAt(offset);
    if (code > 127) break;
    mem[ptr + offset] = code;
  }
  if (offset !== len) {
    if (offset !== 0) {
      arg = arg.slice(offset);
    }
    ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
    const view = getUint8ArrayMemory0().subarray(ptr + offset, ptr + len);
    const ret = cachedTextEncoder.encodeInto(arg, view);
    offset += ret.written;
    ptr = realloc(ptr, len, offset, 1) >>> 0;
  }
  WASM_VECTOR_LEN = offset;
  return ptr;
}
function takeFromExternrefTable0(idx) {
  const value = wasm.__wbindgen_externrefs.get(idx);
  wasm.__externref_table_dealloc(idx);
  return value;
}
var cachedTextDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
cachedTextDecoder.decode();
var MAX_SAFARI_DECODE_BYTES = 2146435072;
var numBytesDecoded = 0;
function decodeText(bytes) {
  numBytesDecoded += bytes.length;
  if (numBytesDecoded >= MAX_SAFARI_DECODE_BYTES) {
    cachedTextDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
    cachedTextDecoder.decode();
    numBytesDecoded = bytes.length;
  }
  return cachedTextDecoder.decode(bytes);
}
var cachedTextEncoder = new TextEncoder();
if (!("encodeInto" in cachedTextEncoder)) {
  cachedTextEncoder.encodeInto = function(arg, view) {
    const buf = cachedTextEncoder.encode(arg);
    view.set(buf);
    return {
      read: arg.length,
      written: buf.length
    };
  };
}
var WASM_VECTOR_LEN = 0;
var wasmModule;
var wasmInstance;
var wasm;
function __wbg_finalize_init(instance, module) {
  wasmInstance = instance;
  wasm = instance.exports;
  wasmModule = module;
  cachedDataViewMemory0 = null;
  cachedUint8ArrayMemory0 = null;
  wasm.__wbindgen_start();
  return wasm;
}
async function __wbg_load(module, imports) {
  if (typeof Response === "function" && module instanceof Response) {
    if (!module.ok) {
      throw new Error(`failed to fetch Wasm: ${module.status} ${module.statusText} fetching '${module.url}'`);
    }
    if (typeof WebAssembly.instantiateStreaming === "function") {
      try {
        return await WebAssembly.instantiateStreaming(module, imports);
      } catch (e) {
        const validResponse = expectedResponseType(module.type);
        if (validResponse && module.headers.get("Content-Type") !== "application/wasm") {
          console.warn("`WebAssembly.instantiateStreaming` failed because your server does not serve Wasm with `application/wasm` MIME type. Falling back to `WebAssembly.instantiate` which is slower. Original error:\n", e);
        } else {
          throw e;
        }
      }
    }
    const bytes = await module.arrayBuffer();
    return await WebAssembly.instantiate(bytes, imports);
  } else {
    const instance = await WebAssembly.instantiate(module, imports);
    if (instance instanceof WebAssembly.Instance) {
      return { instance, module };
    } else {
      return instance;
    }
  }
  function expectedResponseType(type) {
    switch (type) {
      case "basic":
      case "cors":
      case "default":
        return true;
    }
    return false;
  }
}
var __wbg_init_promise;
async function __wbg_init(module_or_path) {
  if (wasm !== void 0) return wasm;
  if (__wbg_init_promise === void 0) {
    __wbg_init_promise = __wbg_init_once(module_or_path);
    __wbg_init_promise.catch(() => {
      __wbg_init_promise = void 0;
    });
  }
  return __wbg_init_promise;
}
async function __wbg_init_once(module_or_path) {
  if (module_or_path !== void 0) {
    if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
      ({ module_or_path } = module_or_path);
    } else {
      console.warn("using deprecated parameters for the initialization function; pass a single object instead");
    }
  }
  if (module_or_path === void 0) {
    module_or_path = new URL("wasimoff_provider_core_bg.wasm", import.meta.url);
  }
  const imports = __wbg_get_imports();
  if (typeof module_or_path === "string" || typeof Request === "function" && module_or_path instanceof Request || typeof URL === "function" && module_or_path instanceof URL) {
    module_or_path = fetch(module_or_path);
  }
  const { instance, module } = await __wbg_load(await module_or_path, imports);
  return __wbg_finalize_init(instance, module);
}

// js/transport.js
function connectWebSocket(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    const connection = {
      name: "websocket",
      onframe: () => {
      },
      onclose: () => {
      },
      send: (bytes) => socket.send(bytes),
      close: (code = 1e3, reason = "") => socket.close(code, reason)
    };
    socket.onopen = () => resolve(connection);
    socket.onerror = () => reject(new Error(`cannot reach ${url}`));
    socket.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) connection.onframe(new Uint8Array(event.data));
    };
    socket.onclose = (event) => connection.onclose(event.reason || `closed (${event.code})`);
  });
}
function hexBytes(hex) {
  return new Uint8Array(hex.match(/../g).map((pair) => parseInt(pair, 16)));
}
var hasWebTransport = typeof WebTransport === "function";
async function connectWebTransport(url, hashes, timeoutMs) {
  const session = new WebTransport(url, {
    serverCertificateHashes: hashes.map((hash) => ({ algorithm: "sha-256", value: hexBytes(hash) }))
  });
  session.closed.catch(() => {
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([session.ready, timeout]);
  } catch (error) {
    session.close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const stream = await session.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  let unsent = [];
  const flush = () => {
    if (unsent.length) writer.write(lengthPrefixed(unsent)).catch(() => {
    });
    unsent = [];
  };
  const connection = {
    name: "webtransport",
    onframe: () => {
    },
    onclose: () => {
    },
    send: (bytes) => {
      if (unsent.push(bytes) === 1) queueMicrotask(flush);
    },
    close: (code = 1e3, reason = "") => {
      flush();
      writer.close().catch(() => {
      });
      session.close({ closeCode: code, reason });
    }
  };
  readFrames(stream.readable, (frame) => connection.onframe(frame));
  session.closed.then(
    (info) => connection.onclose(info?.reason || `closed (${info?.closeCode ?? 0})`),
    (error) => connection.onclose(error?.message ?? "connection lost")
  );
  return connection;
}
function lengthPrefixed(frames) {
  const out = new Uint8Array(frames.reduce((total, frame) => total + 4 + frame.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const frame of frames) {
    view.setUint32(at, frame.length);
    out.set(frame, at + 4);
    at += 4 + frame.length;
  }
  return out;
}
async function readFrames(readable, onframe) {
  const reader = readable.getReader();
  let buffer = new Uint8Array(64 * 1024);
  let start2 = 0;
  let end = 0;
  try {
    for (; ; ) {
      const { value, done } = await reader.read();
      if (done) return;
      if (end + value.length > buffer.length) {
        const live = buffer.subarray(start2, end);
        const grown = live.length + value.length > buffer.length ? new Uint8Array(2 * (live.length + value.length)) : buffer;
        grown.set(live);
        buffer = grown;
        end -= start2;
        start2 = 0;
      }
      buffer.set(value, end);
      end += value.length;
      while (end - start2 >= 4) {
        const length = new DataView(buffer.buffer, start2, 4).getUint32(0);
        if (end - start2 - 4 < length) break;
        onframe(buffer.slice(start2 + 4, start2 + 4 + length));
        start2 += 4 + length;
      }
    }
  } catch {
  }
}

// js/pool.js
var workerUrl = new URL("./provider-worker.js", import.meta.url);
var DEPTH = 2;
var REARM_AFTER_MS = 1e3;
var Slot = class {
  constructor(pool, index) {
    this.pool = pool;
    this.index = index;
    this.queue = [];
    this.retire = false;
    this.timer = null;
    this.timerAt = 0;
    this.spawn();
  }
  spawn() {
    this.worker = new Worker(workerUrl, { type: "module", name: `wasimoff worker ${this.index}` });
    this.worker.onmessage = (event) => this.message(event.data);
    this.worker.onerror = (event) => this.finish({ type: "failed", kind: this.pool.kinds.Internal, message: `worker error: ${event.message}` });
    this.worker.postMessage({ type: "init", kinds: this.pool.kinds });
    this.modules = /* @__PURE__ */ new Set();
  }
  /** The running task, or null. */
  get task() {
    return this.queue[0] ?? null;
  }
  /** Tasks posted and not cancelled. */
  get load() {
    return this.queue.filter((entry) => !entry.cancelled).length;
  }
  run(task, module) {
    const entry = { id: task.id, artifacts: task.artifacts, limits: task.limits, stdout: [], stderr: [], deadline: 0, cancelled: false };
    entry.post = { task, module };
    const first = this.queue.length === 0;
    this.queue.push(entry);
    this.post(entry, first);
    if (first) this.started(entry);
  }
  post(entry, transfer) {
    const { task, module } = entry.post;
    const sent = this.modules.has(task.module);
    this.modules.add(task.module);
    const message = {
      type: "run",
      id: task.id,
      digest: task.module,
      module: sent ? void 0 : module,
      task: { args: task.args, envs: task.envs, stdin: task.stdin, files: task.files, artifacts: task.artifacts, limits: task.limits, seed: task.seed }
    };
    this.worker.postMessage(message, transfer ? transferable(task) : []);
    if (transfer) entry.post = null;
  }
  /** `entry` runs now: its timeout counts from here. */
  started(entry) {
    entry.deadline = performance.now() + entry.limits.timeoutMs;
    if (this.timer === null || this.timerAt > entry.deadline || entry.deadline - this.timerAt > REARM_AFTER_MS) this.arm(entry.deadline);
  }
  /** (Re-)arms the timer to fire at `deadline`. */
  arm(deadline) {
    clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(() => this.check(), Math.max(0, deadline - performance.now()));
  }
  /** The timer fired: the running task is stopped if it passed its deadline, else checked again at it. */
  check() {
    this.timer = null;
    const task = this.task;
    if (!task) return;
    if (task.deadline <= performance.now()) this.timeout();
    else this.arm(task.deadline);
  }
  /** Stops the deadline checks (the worker is gone). */
  stopTimer() {
    clearTimeout(this.timer);
    this.timer = null;
  }
  /** Tells the worker to drop a module the provider no longer holds. */
  forget(digest) {
    if (this.modules.delete(digest)) this.worker.postMessage({ type: "forget", digest });
  }
  message(data) {
    const task = this.task;
    if (!task || data.id !== task.id) return;
    if (data.type === "output") (data.stream === 1 ? task.stdout : task.stderr).push(data.data);
    else if (data.type === "result") this.finish(data.result);
  }
  timeout() {
    const task = this.queue.shift();
    this.restart(`task ${task.id} passed its timeout`);
    const message = `the task ran longer than its timeout of ${task.limits.timeoutMs} ms and was stopped`;
    this.report(task, { type: "failed", kind: this.pool.kinds.Timeout, message });
  }
  /**
   * Stops whatever runs: the worker is terminated and replaced; the tasks behind are posted
   * again and the first of them starts.
   */
  restart(why) {
    this.worker.terminate();
    this.pool.log(`worker ${this.index} replaced: ${why}`);
    this.pool.restarts += 1;
    this.spawn();
    this.queue = this.queue.filter((entry) => !entry.cancelled);
    for (const entry of this.queue) this.post(entry, false);
    if (this.task) this.started(this.task);
  }
  /** Stops task `id`: at once if it runs, else when its turn comes. */
  cancel(id) {
    const entry = this.queue.find((e) => e.id === id);
    if (!entry) return;
    entry.cancelled = true;
    if (entry === this.task) {
      this.queue.shift();
      this.restart(`task ${id} was cancelled`);
    }
    this.pool.changed();
  }
  /** The running task ended: reported, and the next starts (or, if cancelled, the worker is replaced). */
  finish(result) {
    const task = this.queue.shift();
    if (!task) return;
    if (this.task?.cancelled) this.restart(`task ${this.task.id} was cancelled`);
    else if (this.task) this.started(this.task);
    this.report(task, result);
  }
  report(task, result) {
    this.pool.done(task, { ...result, stdout: concat(task.stdout), stderr: concat(task.stderr) });
  }
};
function transferable(task) {
  const views = [task.stdin, ...task.files.map((file) => file.data)].filter(Boolean);
  const whole = views.filter((view) => view.byteOffset === 0 && view.byteLength === view.buffer.byteLength);
  return [...new Set(whole.map((view) => view.buffer))];
}
function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
var WorkerPool = class {
  constructor({ size, kinds, ondone, onlog, onchange }) {
    this.slots = [];
    this.kinds = kinds;
    this.restarts = 0;
    this.ondone = ondone;
    this.log = onlog;
    this.changed = onchange;
    this.resize(size);
  }
  /** Grows or shrinks to `size` workers; busy workers leave when their task is done. */
  resize(size) {
    for (const slot of this.slots) slot.retire = false;
    while (this.active().length < size) this.slots.push(new Slot(this, this.slots.length + 1));
    const extra = this.active().length - size;
    const idleFirst = [...this.active()].sort((a, b) => (a.task ? 1 : 0) - (b.task ? 1 : 0)).slice(0, extra);
    for (const slot of idleFirst) slot.retire = true;
    this.sweep();
  }
  active() {
    return this.slots.filter((slot) => !slot.retire);
  }
  sweep() {
    for (const slot of this.slots.filter((s) => s.retire && !s.task)) {
      slot.stopTimer();
      slot.worker.terminate();
    }
    this.slots = this.slots.filter((s) => !s.retire || s.task);
    this.slots.forEach((slot, i) => slot.index = i + 1);
    this.changed();
  }
  get size() {
    return this.active().length;
  }
  get busy() {
    return this.slots.filter((s) => s.task).length;
  }
  /** Tasks the pool holds at once: `DEPTH` per worker. */
  get capacity() {
    return this.size * DEPTH;
  }
  /**
   * Runs `task` (a `run` action) with the compiled `module`: on an idle worker, else behind the
   * task of a worker that holds only one.
   */
  run(task, module) {
    const active = this.active();
    const slot = active.find((s) => s.load === 0) ?? active.find((s) => s.load < DEPTH);
    if (!slot) return false;
    slot.run(task, module);
    this.changed();
    return true;
  }
  cancel(id) {
    this.slots.find((s) => s.queue.some((entry) => entry.id === id))?.cancel(id);
  }
  /** Every worker drops the module `digest`. */
  forget(digest) {
    for (const slot of this.slots) slot.forget(digest);
  }
  /** Stops every running task and every worker. */
  terminate() {
    for (const slot of this.slots) {
      slot.stopTimer();
      slot.worker.terminate();
    }
    this.slots = [];
    this.changed();
  }
  done(task, result) {
    this.ondone(task, result);
    this.sweep();
  }
  /** Per worker: its number and the id of the task it runs, or null. */
  snapshot() {
    return this.slots.map((s) => ({ index: s.index, task: s.task ? s.task.id : null, leaving: s.retire }));
  }
};

// js/consent.js
var STYLE = "position:fixed;bottom:1rem;right:1rem;z-index:2147483647;max-width:22rem;padding:1rem;background:#fff;color:#222;border:1px solid #999;border-radius:.5rem;font:14px/1.4 system-ui,sans-serif;box-shadow:0 .25rem 1rem rgba(0,0,0,.2)";
function askConsent(broker) {
  const key = `wasimoff-consent ${broker}`;
  const remembered = localStorage.getItem(key);
  if (remembered) return Promise.resolve(remembered === "allow");
  return new Promise((resolve) => {
    const box = document.createElement("div");
    box.setAttribute("role", "dialog");
    box.style.cssText = STYLE;
    box.innerHTML = "<p style='margin:0 0 .75rem'>This site would like to use some of your idle processor time for computations while the page is open.</p><button data-wasimoff-consent='allow'>Allow</button> <button data-wasimoff-consent='deny'>No thanks</button>";
    box.addEventListener("click", (event) => {
      const answer = event.target?.dataset?.wasimoffConsent;
      if (!answer) return;
      localStorage.setItem(key, answer);
      box.remove();
      resolve(answer === "allow");
    });
    const show = () => document.body.append(box);
    document.body ? show() : addEventListener("DOMContentLoaded", show, { once: true });
  });
}

// js/panel.js
var html = (strings, ...values) => strings.reduce((out, s, i) => out + s + (i < values.length ? String(values[i]).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`) : ""), "");
function mountPanel(element, provider) {
  element.innerHTML = `
    <header><h1>wasimoff provider</h1><span class="state" data-field="connection"></span></header>
    <section class="stats">
      <div><b data-field="tasksDone">0</b><span>tasks done</span></div>
      <div><b data-field="rate">0</b><span>tasks/s</span></div>
      <div><b data-field="busy">0</b><span>busy</span></div>
      <div><b data-field="transport">\u2013</b><span>transport</span></div>
    </section>
    <section class="workers">
      <h2>Workers <button data-action="remove" title="one worker less">\u2212</button><button data-action="add" title="one worker more">+</button>
      <button data-action="pause">pause</button></h2>
      <ol data-field="workers"></ol>
    </section>
    <section class="log"><h2>Log</h2><pre data-field="log"></pre></section>`;
  const field = (name) => element.querySelector(`[data-field="${name}"]`);
  element.addEventListener("click", (event) => {
    const action = event.target?.dataset?.action;
    const size = provider.state().workers.filter((w) => !w.leaving).length;
    if (action === "add") provider.setWorkers(size + 1);
    if (action === "remove") provider.setWorkers(size - 1);
    if (action === "pause") provider.paused ? provider.resume() : provider.pause();
  });
  let scheduled = false;
  const draw = () => {
    scheduled = false;
    const s = provider.state();
    const connection = field("connection");
    connection.textContent = s.paused ? `${s.connection} (paused)` : s.connection;
    connection.dataset.state = s.connection;
    field("tasksDone").textContent = s.tasksDone;
    field("rate").textContent = s.tasksPerSecond.toFixed(1);
    field("busy").textContent = `${s.busy}/${s.workers.length}`;
    field("transport").textContent = s.transport ?? "\u2013";
    element.querySelector('[data-action="pause"]').textContent = s.paused ? "resume" : "pause";
    field("workers").innerHTML = s.workers.map((w) => html`<li class="${w.task === null ? "idle" : "busy"}">worker ${w.index}: ${w.task === null ? "idle" : `task ${w.task}`}${w.leaving ? " (leaving)" : ""}</li>`).join("");
    const log = field("log");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 8;
    log.textContent = s.log.join("\n");
    if (atBottom) log.scrollTop = log.scrollHeight;
  };
  provider.addEventListener("change", () => {
    if (!scheduled) requestAnimationFrame(draw);
    scheduled = true;
  });
  setInterval(draw, 1e3);
  draw();
}

// js/provider.js
var CACHED_MODULES = 64;
var BACKOFF_MS = { first: 500, max: 15e3 };
var RATE_WINDOW_MS = 1e4;
var LOG_LINES = 200;
var WEBTRANSPORT_TIMEOUT_MS = 3e3;
var SILENT_HEARTBEATS = 2.5;
var NO_OUTPUT = new Uint8Array();
var CHANGE_EVERY_MS = 500;
var coreReady = null;
function loadCore() {
  coreReady ??= __wbg_init({ module_or_path: new URL("./provider-core.wasm", import.meta.url) });
  return coreReady;
}
function defaultBroker() {
  return new URL(".", import.meta.url).href.replace(/\/$/, "");
}
var Provider = class extends EventTarget {
  constructor(options = {}) {
    super();
    this.broker = (options.broker ?? defaultBroker()).replace(/\/$/, "");
    this.wanted = Math.max(1, Number(options.workers) || navigator.hardwareConcurrency || 2);
    this.paused = Boolean(options.paused);
    this.consent = Boolean(options.consent);
    this.transportChoice = options.transport === "websocket" ? "websocket" : "auto";
    this.connection = "starting";
    this.transport = null;
    this.providerId = null;
    this.tasksDone = 0;
    this.finishedAt = [];
    this.lines = [];
    this.modules = /* @__PURE__ */ new Map();
    this.compiled = /* @__PURE__ */ new Map();
    this.stopping = false;
    this.pool = null;
    this.socket = null;
    this.attempt = 0;
    this.flushTimer = null;
  }
  /** Connects and serves tasks until `stop()`; resolves once it is running. */
  async start() {
    if (this.consent && !await askConsent(this.broker)) return this.set("declined", "the visitor declined");
    if (navigator.locks) await this.takeLock();
    await loadCore();
    this.kinds = errorKinds();
    this.pool = new WorkerPool({
      size: this.wanted,
      kinds: this.kinds,
      ondone: (task, result) => this.finished(task, result),
      onlog: (line) => this.log(line),
      onchange: () => this.emit()
    });
    this.session = new Session(CACHED_MODULES, this.pool.capacity);
    addEventListener("pagehide", () => {
      this.flushResults();
      this.socket?.close(1001, "page closed");
    });
    this.connect();
  }
  /** Holds the browser-wide lock for this broker until `stop()`: one provider per browser. */
  takeLock() {
    const name = `wasimoff-provider ${this.broker}`;
    const hold = () => new Promise((release) => this.releaseLock = release);
    return new Promise((acquired) => {
      navigator.locks.request(name, { ifAvailable: true }, (lock) => {
        if (lock) return acquired(), hold();
        this.set("standby", "standby: another tab of this browser is the provider");
        navigator.locks.request(name, () => (acquired(), hold()));
      });
    });
  }
  /** What the broker offers (`{prefix}/provider/info`), or null if it does not say. */
  async offers() {
    try {
      const response = await fetch(`${this.broker}/provider/info`, { cache: "no-store" });
      return response.ok ? await response.json() : null;
    } catch {
      return null;
    }
  }
  /** WebTransport if the browser and the broker have it, else (or if it fails) WebSocket. */
  async open() {
    const offers = this.transportChoice === "auto" && hasWebTransport ? await this.offers() : null;
    const webtransport = offers?.webtransport;
    if (webtransport) {
      const url2 = `https://${new URL(this.broker).hostname}:${webtransport.port}${webtransport.path}`;
      try {
        this.log(`connecting to ${url2} (WebTransport)`);
        return await connectWebTransport(url2, webtransport.certificate_hashes, WEBTRANSPORT_TIMEOUT_MS);
      } catch (error) {
        this.log(`WebTransport failed (${error.message}); falling back to WebSocket`);
      }
    }
    const url = `${this.broker.replace(/^http/, "ws")}/provider/ws`;
    this.log(`connecting to ${url}`);
    return connectWebSocket(url);
  }
  async connect() {
    this.set(this.attempt ? "reconnecting" : "connecting", "connecting");
    try {
      this.socket = await this.open();
    } catch (error) {
      return this.retry(error.message);
    }
    const socket = this.socket;
    this.transport = socket.name;
    this.lastFrame = performance.now();
    socket.onframe = (frame) => {
      this.lastFrame = performance.now();
      this.receive(frame);
    };
    socket.onclose = (reason) => socket === this.socket && this.closed(reason);
    this.send(this.session.hello(navigator.userAgent, this.announced()));
  }
  /**
   * Notices a broker that vanished without closing the connection (a restarted broker never
   * answers an old QUIC connection): silence past a few heartbeats counts as a lost connection.
   */
  watch(heartbeatMs) {
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      const socket = this.socket;
      if (!socket || performance.now() - this.lastFrame < SILENT_HEARTBEATS * heartbeatMs) return;
      clearInterval(this.watchdog);
      socket.close(1001, "no heartbeat from the broker");
      this.closed(`no heartbeat for ${Math.round(SILENT_HEARTBEATS * heartbeatMs)} ms`);
    }, heartbeatMs);
  }
  retry(reason) {
    this.socket = null;
    if (this.stopping) return;
    const delay = Math.min(BACKOFF_MS.max, BACKOFF_MS.first * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.set("reconnecting", `${reason}; retrying in ${Math.round(delay)} ms`);
    setTimeout(() => this.connect(), delay);
  }
  /**
   * The connection is gone: its tasks, running and queued, are the broker's to requeue, so the
   * workers start afresh.
   */
  closed(reason) {
    clearInterval(this.watchdog);
    this.socket = null;
    this.providerId = null;
    this.modules.clear();
    this.compiled.clear();
    this.pool.terminate();
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.session = new Session(CACHED_MODULES, 0);
    if (this.stopping) return this.set("stopped", `disconnected: ${reason}`);
    this.pool.resize(this.wanted);
    this.session.setSlots(this.pool.capacity);
    this.retry(`connection lost: ${reason}`);
  }
  send(frame) {
    this.socket?.send(frame);
  }
  /** Workers the broker may use now. */
  announced() {
    return this.paused || this.stopping ? 0 : this.pool.size;
  }
  receive(frame) {
    let actions;
    try {
      actions = this.session.receive(frame);
    } catch (error) {
      this.log(`bad frame from the broker: ${error.message}`);
      return this.socket?.close(1002, "malformed frame");
    }
    for (const action of actions) this.act(action);
  }
  act(action) {
    switch (action.type) {
      case "welcome":
        this.attempt = 0;
        this.providerId = action.providerId;
        this.watch(action.heartbeatMs);
        return this.set("connected", `connected over ${this.transport} as ${action.providerId}`);
      case "refused":
        this.stopping = true;
        return this.set("refused", `the broker refused this provider: ${action.reason}`);
      case "send":
        return this.send(action.frame);
      case "cancel":
        this.pool.cancel(action.id);
        return this.checkDrained();
      case "evict":
        return action.digests.forEach((digest) => this.forgetModule(digest));
      case "module":
        return this.compile(action.digest, action.bytes);
      case "run":
        return this.run(action);
    }
  }
  /** Compiles a module once for every worker; tasks of it wait for the promise. */
  compile(digest, bytes) {
    const compiling = WebAssembly.compile(bytes);
    this.modules.set(digest, compiling);
    compiling.then(
      (module) => this.modules.get(digest) === compiling && this.compiled.set(digest, module),
      () => {
      }
    );
  }
  forgetModule(digest) {
    this.modules.delete(digest);
    this.compiled.delete(digest);
    this.pool.forget(digest);
  }
  /**
   * Runs a task the core handed over (it has a free worker for it) once its module is compiled:
   * at once if it is, else after the compile, unless the task was cancelled meanwhile.
   */
  async run(task) {
    const compiled = this.compiled.get(task.module);
    if (compiled) return this.dispatch(task, compiled);
    const session = this.session;
    const compiling = this.modules.get(task.module);
    if (!compiling) return this.fail(task.id, this.kinds.Internal, `module ${task.module} is not cached`);
    let module;
    try {
      module = await compiling;
    } catch (error) {
      if (session !== this.session) return;
      if (this.modules.get(task.module) === compiling) {
        this.forgetModule(task.module);
        this.send(this.session.forget(task.module));
      }
      return this.fail(task.id, this.kinds.InvalidModule, error.message);
    }
    if (session === this.session && session.isRunning(task.id)) this.dispatch(task, module);
  }
  dispatch(task, module) {
    if (!this.pool.run(task, module)) this.fail(task.id, this.kinds.Internal, "no idle worker on this provider");
  }
  /** Answers a task that did not reach a worker, and gives its place to the next. */
  fail(id, kind, message) {
    this.next(id);
    this.sendResult(this.session.failed(id, kind, message, NO_OUTPUT, NO_OUTPUT));
  }
  /**
   * Sends the frames the core gives for a result. While every worker still has a task to go on
   * with, the core holds results back to send several in one frame (protocol version 2); what
   * it holds goes out with the next result sent, or from a timer after `resultHoldMs`.
   */
  sendResult(frames) {
    for (const frame of frames) this.send(frame);
    if (!this.session.holding || this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flushResults(), this.session.resultHoldMs);
  }
  /** Sends the results the core holds back, if any. */
  flushResults() {
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const frame = this.session?.flush();
    if (frame) this.send(frame);
  }
  /** Task `id` no longer holds a worker: the core hands over the next waiting task, if any. */
  next(id) {
    for (const action of this.session.finished(id)) this.act(action);
    this.checkDrained();
  }
  /** While stopping: resolves `stop()`'s wait once no task runs or waits. */
  checkDrained() {
    if (this.stopping && this.session.pending() === 0) this.drained?.();
  }
  finished(task, result) {
    this.next(task.id);
    const frames = result.type === "exited" ? this.session.exited(
      task.id,
      result.status,
      result.stdout,
      result.stderr,
      task.artifacts.length ? result.artifacts : null,
      result.missing,
      task.limits.artifactBytes,
      result.elapsedUs
    ) : this.session.failed(task.id, result.kind, result.message, result.stdout, result.stderr);
    this.sendResult(frames);
    this.log(`task ${task.id}: ${result.type === "exited" ? `exit ${result.status}` : result.kind}`);
    this.tasksDone += 1;
    this.finishedAt.push(performance.now());
    this.forgetOldFinishes();
  }
  /** Sets the number of workers (at least one). */
  setWorkers(count) {
    this.wanted = Math.max(1, Math.floor(count));
    if (this.pool) {
      this.pool.resize(this.wanted);
      for (const action of this.session.setSlots(this.pool.capacity)) this.act(action);
    }
    this.send(this.session.workers(this.announced()));
    this.log(`workers: ${this.wanted}`);
  }
  /** Stops taking tasks; running tasks finish. */
  pause() {
    this.paused = true;
    this.send(this.session.workers(0));
    this.set(this.connection, "paused");
  }
  /** Takes tasks again after `pause()`. */
  resume() {
    this.paused = false;
    this.send(this.session.workers(this.announced()));
    this.set(this.connection, "resumed");
  }
  /** Stops taking tasks, lets running and queued tasks finish, then disconnects. */
  async stop() {
    this.stopping = true;
    this.send(this.session.workers(0));
    if (this.session?.pending()) {
      this.log(`draining ${this.session.pending()} running or queued task(s)`);
      await new Promise((resolve) => this.drained = resolve);
    }
    this.socket?.close(1e3, "provider stopped");
    this.pool?.terminate();
    this.releaseLock?.();
    this.set("stopped", "stopped");
  }
  /** Keeps only the finishing times inside the rate window (oldest first). */
  forgetOldFinishes() {
    const since = performance.now() - RATE_WINDOW_MS;
    const old = this.finishedAt.findIndex((t) => t >= since);
    this.finishedAt.splice(0, old === -1 ? this.finishedAt.length : old);
  }
  /** A snapshot for displays and tests. */
  state() {
    this.forgetOldFinishes();
    return {
      connection: this.connection,
      transport: this.transport,
      providerId: this.providerId,
      paused: this.paused,
      workers: this.pool ? this.pool.snapshot() : [],
      busy: this.pool ? this.pool.busy : 0,
      queued: this.session ? this.session.pending() - (this.pool ? this.pool.busy : 0) : 0,
      restarts: this.pool ? this.pool.restarts : 0,
      modulesCached: this.modules.size,
      tasksDone: this.tasksDone,
      tasksPerSecond: this.finishedAt.length / (RATE_WINDOW_MS / 1e3),
      log: this.lines
    };
  }
  set(connection, line) {
    this.connection = connection;
    this.log(line);
  }
  log(line) {
    this.lines.push(`${this.clock()} ${line}`);
    if (this.lines.length > LOG_LINES) this.lines.splice(0, this.lines.length - LOG_LINES);
    this.emit();
  }
  /** The local time of day, formatted once per second. */
  clock() {
    const second = Math.floor(Date.now() / 1e3);
    if (second !== this.clockSecond) [this.clockSecond, this.clockText] = [second, (/* @__PURE__ */ new Date()).toLocaleTimeString()];
    return this.clockText;
  }
  /** Announces a change; several within `CHANGE_EVERY_MS` make one `change` event. */
  emit() {
    if (this.changeTimer) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = null;
      this.dispatchEvent(new Event("change"));
    }, CHANGE_EVERY_MS);
  }
};
function start(options = {}) {
  const provider = new Provider(options);
  provider.start();
  return provider;
}
function ownScriptTag() {
  return [...document.querySelectorAll("script[src]")].find((s) => s.src === import.meta.url) ?? null;
}
function autostart() {
  const tag = ownScriptTag();
  if (!tag || tag.dataset.autostart === "false") return;
  const d = tag.dataset;
  window.wasimoffProvider = start({
    broker: d.broker,
    workers: d.workers,
    paused: d.paused !== void 0 && d.paused !== "false",
    transport: d.transport,
    consent: d.consent !== "false"
  });
}
autostart();
export {
  Provider,
  mountPanel,
  start
};
