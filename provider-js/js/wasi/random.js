// The seeded generator of deterministic tasks, as src/runner/determinism.rs: the ChaCha20
// keystream (RFC 8439 block function, 64-bit block counter from 0, nonce 0) keyed with the
// 64-bit seed in little-endian order followed by 24 zero bytes, read as 32-bit words;
// random_get takes the low byte of one word per byte.

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

const rotl = (x, n) => (x << n) | (x >>> (32 - n));

function quarterRound(s, a, b, c, d) {
  s[a] = (s[a] + s[b]) | 0;
  s[d] = rotl(s[d] ^ s[a], 16);
  s[c] = (s[c] + s[d]) | 0;
  s[b] = rotl(s[b] ^ s[c], 12);
  s[a] = (s[a] + s[b]) | 0;
  s[d] = rotl(s[d] ^ s[a], 8);
  s[c] = (s[c] + s[d]) | 0;
  s[b] = rotl(s[b] ^ s[c], 7);
}

/** ChaCha20 keystream words for a seed given as hex (up to 16 digits, a u64). */
export class ChaCha20Words {
  constructor(seedHex) {
    const seed = BigInt(`0x${seedHex}`);
    this.input = new Uint32Array(16);
    this.input.set(SIGMA);
    this.input[4] = Number(seed & 0xffffffffn);
    this.input[5] = Number(seed >> 32n);
    this.block = new Uint32Array(16);
    this.work = new Uint32Array(16);
    this.index = 16;
  }

  /** Computes the next 64-byte block and steps the 64-bit counter (words 12 and 13). */
  refill() {
    const { input, work, block } = this;
    work.set(input);
    for (let round = 0; round < 10; round++) {
      quarterRound(work, 0, 4, 8, 12);
      quarterRound(work, 1, 5, 9, 13);
      quarterRound(work, 2, 6, 10, 14);
      quarterRound(work, 3, 7, 11, 15);
      quarterRound(work, 0, 5, 10, 15);
      quarterRound(work, 1, 6, 11, 12);
      quarterRound(work, 2, 7, 8, 13);
      quarterRound(work, 3, 4, 9, 14);
    }
    for (let i = 0; i < 16; i++) block[i] = work[i] + input[i];
    input[12] = input[12] + 1;
    if (input[12] === 0) input[13] = input[13] + 1;
    this.index = 0;
  }

  /** The next 32-bit word of the keystream (little-endian bytes). */
  nextWord() {
    if (this.index === 16) this.refill();
    return this.block[this.index++];
  }

  /** random_get: one word's low byte per byte of `target`. */
  fill(target) {
    for (let i = 0; i < target.length; i++) target[i] = this.nextWord() & 0xff;
  }
}
