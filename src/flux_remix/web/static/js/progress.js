// Follow a generation job's progress stream (Server-Sent Events) and survive a lost connection.
//
// EventSource reconnects by itself after a network drop and sends Last-Event-ID, so the server
// replays only what was missed. When the browser gives up (the server answered an error, or was
// restarted), the job is asked for directly, missed events are replayed from its snapshot, and
// the stream is opened again; while the network is down this retries with a growing delay.
import { api } from "./common.js";

const FINAL = new Set(["result", "failure"]);

export function follow(jobId, after, { onEvent, onReconnecting, onResumed, onLost }) {
  const base = `/api/v1/jobs/${encodeURIComponent(jobId)}`;
  let lastId = after;
  let source = null;
  let done = false;
  let interrupted = false;
  let delay = 1000;

  const stop = () => {
    done = true;
    source?.close();
  };

  const deliver = (kind, id, data) => {
    if (id <= lastId) return;
    lastId = id;
    if (FINAL.has(kind)) stop();
    onEvent(kind, data);
  };

  const reconnected = () => {
    delay = 1000;
    if (interrupted) {
      interrupted = false;
      onResumed();
    }
  };

  const lost = () => {
    if (!interrupted) onReconnecting();
    interrupted = true;
  };

  const open = () => {
    if (done) return;
    source = new EventSource(`${base}/events?after=${lastId}`);
    source.addEventListener("open", reconnected);
    for (const kind of ["stage", "result", "failure"]) {
      source.addEventListener(kind, (event) => {
        reconnected();
        deliver(kind, Number(event.lastEventId), JSON.parse(event.data));
      });
    }
    source.addEventListener("error", () => {
      if (done) return;
      lost();
      if (source.readyState === EventSource.CLOSED) check(); // the browser gave up
    });
  };

  const check = async () => {
    if (done) return;
    try {
      const job = await api(base);
      reconnected();
      for (const event of job.events) deliver(event.event, event.id, event.data);
      if (!done) open();
    } catch (err) {
      if (err.status === 404 || err.status === 401 || err.status === 403) {
        stop();
        if (err.status === 404) onLost(null);
        return;
      }
      setTimeout(check, delay); // still offline: try again, a little later each time
      delay = Math.min(delay * 2, 15000);
    }
  };

  addEventListener("online", () => {
    if (!done && source?.readyState === EventSource.CLOSED) check();
  });
  open();
  return { stop };
}
