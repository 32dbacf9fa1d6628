// Transports carry protocol frames (binary MessagePack, see docs/PROTOCOL.md) between the
// provider and the broker. Each `connect…` resolves, once the connection is open, to
// `{ name, send(bytes), close(code, reason), onframe, onclose }`.

/** Opens a WebSocket to the broker's provider endpoint. */
export function connectWebSocket(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    const connection = {
      name: "websocket",
      onframe: () => {},
      onclose: () => {},
      send: (bytes) => socket.send(bytes),
      close: (code = 1000, reason = "") => socket.close(code, reason),
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

/** Whether this browser can open WebTransport sessions at all. */
export const hasWebTransport = typeof WebTransport === "function";

/**
 * Opens a WebTransport session (HTTP/3) trusting the certificates whose SHA-256 `hashes`
 * (hex) the broker published, and one bidirectional stream on it. Frames are a 4-byte
 * big-endian length and the message. Gives up after `timeoutMs` (blocked UDP never answers).
 */
export async function connectWebTransport(url, hashes, timeoutMs) {
  const session = new WebTransport(url, {
    serverCertificateHashes: hashes.map((hash) => ({ algorithm: "sha-256", value: hexBytes(hash) })),
  });
  session.closed.catch(() => {});
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
  // Frames sent in one turn of the event loop (a result and the next task's events, several
  // results) leave in one write.
  let unsent = [];
  const flush = () => {
    if (unsent.length) writer.write(lengthPrefixed(unsent)).catch(() => {});
    unsent = [];
  };
  const connection = {
    name: "webtransport",
    onframe: () => {},
    onclose: () => {},
    send: (bytes) => {
      if (unsent.push(bytes) === 1) queueMicrotask(flush);
    },
    close: (code = 1000, reason = "") => {
      flush();
      writer.close().catch(() => {});
      session.close({ closeCode: code, reason });
    },
  };
  readFrames(stream.readable, (frame) => connection.onframe(frame));
  session.closed.then(
    (info) => connection.onclose(info?.reason || `closed (${info?.closeCode ?? 0})`),
    (error) => connection.onclose(error?.message ?? "connection lost"),
  );
  return connection;
}

/** The frames, each as a 4-byte big-endian length and its bytes, in one buffer. */
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

/** Reads length-prefixed frames from `readable` to its end, copying each byte about once. */
async function readFrames(readable, onframe) {
  const reader = readable.getReader();
  let buffer = new Uint8Array(64 * 1024);
  let start = 0;
  let end = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (end + value.length > buffer.length) {
        const live = buffer.subarray(start, end);
        const grown = live.length + value.length > buffer.length ? new Uint8Array(2 * (live.length + value.length)) : buffer;
        grown.set(live);
        buffer = grown;
        end -= start;
        start = 0;
      }
      buffer.set(value, end);
      end += value.length;
      while (end - start >= 4) {
        const length = new DataView(buffer.buffer, start, 4).getUint32(0);
        if (end - start - 4 < length) break;
        onframe(buffer.slice(start + 4, start + 4 + length));
        start += 4 + length;
      }
    }
  } catch {
    // The session closed; `closed` reports why.
  }
}
