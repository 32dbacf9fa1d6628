// Transports carry protocol frames (binary MessagePack, see docs/PROTOCOL.md) between the
// provider and the broker. Each one: `connect(url)` resolves to
// `{ name, send(bytes), close(code, reason), onframe, onclose }` once the connection is open.

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
