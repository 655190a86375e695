/** A spec or render context the renderers cannot turn into valid objects; the message says what to change. */
export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RenderError";
  }
}
