import { api, ApiError, type Credentials, type User } from './api';

/** Who is signed in. The session itself is the HttpOnly `session` cookie; this only mirrors it. */
export class Session {
  #user = $state.raw<User | null>(null);
  #loading = $state(true);
  #loadError = $state<string | null>(null);

  get user(): User | null {
    return this.#user;
  }

  /** True until the first `load()` has answered. */
  get loading(): boolean {
    return this.#loading;
  }

  /** Set when `load()` failed for a reason other than "not signed in" (server down, say). */
  get loadError(): string | null {
    return this.#loadError;
  }

  async load(): Promise<void> {
    this.#loading = true;
    this.#loadError = null;
    try {
      this.#user = (await api.me()).user;
    } catch (err) {
      this.#user = null;
      if (!(err instanceof ApiError && err.status === 401)) {
        this.#loadError = err instanceof Error ? err.message : String(err);
      }
    } finally {
      this.#loading = false;
    }
  }

  /** Throws `ApiError` with the server's message on failure. */
  async login(credentials: Credentials): Promise<void> {
    this.#user = (await api.login(credentials)).user;
  }

  /** Throws `ApiError` with the server's message on failure. */
  async register(credentials: Credentials): Promise<void> {
    this.#user = (await api.register(credentials)).user;
  }

  async logout(): Promise<void> {
    try {
      await api.logout();
    } finally {
      // Signed out locally even if the request failed: the UI must not keep showing the account.
      this.#user = null;
    }
  }
}
