/** One named template. Give `mjml` (sections, wrapped in a layout; or a full `<mjml>` document) or `html`. */
export interface EmailTemplateDefinition {
  /** The subject, itself a template (not HTML-escaped; CR/LF refused when sending). */
  subject: string;
  /** MJML: sections placed into the layout's `{{> body}}`, or a complete `<mjml>` document. */
  mjml?: string;
  /** Plain HTML instead of MJML; `<style>` rules are inlined. */
  html?: string;
  /** A hand-written plain-text part. Default: generated from the HTML. */
  text?: string;
  /** The layout for MJML sections. Default `'default'`; `null` for none. */
  layout?: string | null;
}
