// Talking to the truceline API with the reader's key: JSON calls, blobs, and the live event stream.
// The key is entered once per browser: from a `#key=` fragment (the demo opens the page that way) or the
// key form, then kept in localStorage. The server filters everything by the key's releasability.

const KEY_STORAGE = "truceline-key";

/** Take a key from the URL fragment (and remove it from the address bar and history). */
export function takeKeyFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const key = fragment.get("key");
  if (key) {
    localStorage.setItem(KEY_STORAGE, key.trim());
    history.replaceState(null, "", location.pathname + location.search);
  }
}

export const getKey = () => localStorage.getItem(KEY_STORAGE);
export const setKey = (key) => localStorage.setItem(KEY_STORAGE, key.trim());
export const forgetKey = () => localStorage.removeItem(KEY_STORAGE);

/** An HTTP error with the server's own explanation (FastAPI's `detail`, or per-item `errors`). */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `the server answered ${status}`);
    this.status = status;
  }
}

async function explain(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((e) => e.msg || JSON.stringify(e)).join("; ");
    if (Array.isArray(body.errors)) return body.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
  } catch {
    /* not JSON: fall through to the status line */
  }
  return `the server answered ${response.status} ${response.statusText}`;
}

async function call(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: `Bearer ${getKey()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await explain(response));
  return response;
}

/** JSON from an API path (relative to the page's origin). */
export async function api(path, options) {
  return (await call(path, options)).json();
}

/** A Blob from an API path, for documents the browser should open itself (the daily report). */
export async function apiBlob(path) {
  return (await call(path)).blob();
}

/**
 * Follow `/api/v1/stream`. EventSource cannot send an Authorization header, so this reads the
 * server-sent events from a fetch body and reconnects with growing pauses when the stream ends.
 * `onEvent(type, data)` gets each event; `onState("live" | "connecting" | "offline", why)` the link.
 */
export function followStream(onEvent, onState) {
  let stopped = false;
  let controller = null;
  let pause = 1000;

  async function once() {
    controller = new AbortController();
    onState("connecting");
    const response = await call("/api/v1/stream", { signal: controller.signal });
    onState("live");
    pause = 1000;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      // Messages end with a blank line; lines starting with ":" are comments (keep-alives).
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = "message";
        const data = [];
        for (const line of message.split("\n")) {
          if (line.startsWith("event:")) type = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length) {
          try {
            onEvent(type, JSON.parse(data.join("\n")));
          } catch (err) {
            console.error("bad stream event", err);
          }
        }
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
        if (!stopped) onState("connecting", "the stream ended; reconnecting");
      } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError && err.status === 401) {
          onState("offline", err.message);
          return;
        }
        onState("offline", `${err.message}; retrying in ${Math.round(pause / 1000)} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 30000);
    }
  })();

  return {
    close() {
      stopped = true;
      if (controller) controller.abort();
    },
  };
}
