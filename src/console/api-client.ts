/**
 * The console's REST client. It signs in the way an integration does — `POST /authuser/{email}`
 * for a SecretKey, then HTTP Basic `email:SecretKey` on every request — and keeps the key in
 * memory only (reloading the page signs out). The wire types are the parts of the REST and
 * diagnostics answers the console reads.
 */

/** `GET /users/me`. */
export interface MeWire {
  Id: string;
  UserName: string;
  DisplayName: string | null;
  Extension: string;
  Role: string;
}

/** One row of `GET /queues`. */
export interface QueueWire {
  Id: string;
  Name: string;
  MemberUserIds: string[];
}

/** `GET`/`POST /users/{id}/availability`. */
export interface AvailabilityWire {
  UserId: string;
  Availability: 'Available' | 'Busy' | 'DoNotDisturb' | 'OffWork';
  Note: string | null;
  EndTime: string | null;
  Modified: string | null;
}

/** One row of `GET`/`POST /users/{id}/queues`: a queue of the user and whether they serve it. */
export interface UserQueueWire {
  QueueId: string;
  QueueName: string;
  Serving: boolean;
}

/** `GET /users/{id}/wrapup`, `POST /users/{id}/wrapup/end`. */
export interface WrapUpWire {
  UserId: string;
  InWrapUp: boolean;
  EndTime: string | null;
}

/** One row of `GET /calls` (a user call event); `CallId` is the server's CallId. */
export interface UserCallEventWire {
  CallId: string;
  TimeStamp: string;
  ANum: string;
  BNum: string;
  Result: string;
  CallTypeString: string;
  UserName: string;
}

/** One row of `GET /servicecall` (a queue call's header); `CallId` is the server's CallId. */
export interface ServiceCallWire {
  CallId: string;
  ArrivalTime: string;
  ANum: string;
  BNum: string;
  Result: string | null;
  QueueName: string;
}

/**
 * `GET /calls/recordings/{RecordingId}`. `URL` is relative to apiEndpoint (this origin) and carries a
 * signed, expiring token: the file downloads from it without credentials (an <audio> element can
 * play it). `Duration` is whole seconds.
 */
export interface RecordingWire {
  Id: string;
  CallId: string;
  URL: string;
  Duration: number;
  TimeStamp: string;
  ContentType: string;
}

/** A non-2xx answer; the explorer tells a 404 ("nothing you may see") from other failures. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class RestClient {
  private constructor(
    readonly email: string,
    private readonly authorization: string,
  ) {}

  static async signIn(email: string, password: string): Promise<RestClient> {
    const response = await fetch(`/authuser/${encodeURIComponent(email)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Json-Serializer': '2' },
      body: JSON.stringify({ UserName: email, Password: password }),
    });
    const body = (await response.json().catch(() => ({}))) as { SecretKey?: string; Message?: string };
    if (!response.ok || !body.SecretKey)
      throw new HttpError(response.status, body.Message ?? `sign-in failed (${response.status})`);
    return new RestClient(email, `Basic ${btoa(`${email}:${body.SecretKey}`)}`);
  }

  /**
   * An absolute URL for a path relative to apiEndpoint — the console's own origin: the page, the
   * REST API and the diagnostics endpoints are served by the same server.
   */
  url(path: string): URL {
    return new URL(path.replace(/^\/+/, ''), `${location.origin}/`);
  }

  async get<T>(path: string, query: Record<string, string> = {}): Promise<T> {
    const url = this.url(path);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const response = await fetch(url, {
      headers: { Authorization: this.authorization, 'X-Json-Serializer': '2' },
    });
    return this.answer<T>(path, response);
  }

  /** POST a JSON body; the answer's body, or an HttpError with the API's message. */
  async post<T>(path: string, body: unknown): Promise<T> {
    const response = await fetch(this.url(path), {
      method: 'POST',
      headers: {
        Authorization: this.authorization,
        'Content-Type': 'application/json',
        'X-Json-Serializer': '2',
      },
      body: JSON.stringify(body),
    });
    return this.answer<T>(path, response);
  }

  private async answer<T>(path: string, response: Response): Promise<T> {
    const text = await response.text();
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) {
      const message =
        (body as { Message?: string } | undefined)?.Message ?? `${path}: HTTP ${response.status}`;
      throw new HttpError(response.status, message);
    }
    return body as T;
  }
}
