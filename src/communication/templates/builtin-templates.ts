import type { EmailTemplateDefinition } from './email-template-definition.js';

/**
 * The default layout: a responsive, single-column MJML frame (600 px, fluid on phones) with a
 * header naming `productName`, the template's sections in `{{> body}}`, and a footer with the
 * unsubscribe link when the message has one.
 */
export const DEFAULT_LAYOUT = `<mjml lang="en">
  <mj-head>
    <mj-title>{{productName}}</mj-title>
    <mj-attributes>
      <mj-all font-family="-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif" />
      <mj-text font-size="16px" line-height="24px" color="#1f2933" />
      <mj-button background-color="#2563eb" color="#ffffff" font-size="16px" font-weight="600" border-radius="6px" inner-padding="12px 24px" />
    </mj-attributes>
    <mj-style>
      .muted div { color: #6b7280 !important; }
      @media only screen and (max-width: 480px) { .card { padding: 0 8px !important; } }
    </mj-style>
  </mj-head>
  <mj-body background-color="#f3f4f6" width="600px">
    <mj-section padding="24px 0 8px">
      <mj-column>
        <mj-text align="center" font-size="20px" font-weight="700" color="#111827">{{productName}}</mj-text>
      </mj-column>
    </mj-section>
    <mj-wrapper background-color="#ffffff" border-radius="8px" padding="16px 8px" css-class="card">
{{> body}}
    </mj-wrapper>
    <mj-section padding="16px 0 32px">
      <mj-column>
        <mj-text align="center" font-size="12px" line-height="18px" css-class="muted">You are receiving this email from {{productName}}.{{#if unsubscribeUrl}} <a href="{{unsubscribeUrl}}" style="color:#6b7280">Unsubscribe</a>{{/if}}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

const section = (inner: string): string => `      <mj-section padding="0"><mj-column>
${inner}
      </mj-column></mj-section>`;

/** The built-in templates, registered in every service under these names. */
export const BUILTIN_TEMPLATES: Readonly<Record<string, EmailTemplateDefinition>> = {
  welcome: {
    subject: 'Welcome to {{productName}}, {{name}}',
    mjml: section(`        <mj-text font-size="22px" font-weight="700">Welcome, {{name}}!</mj-text>
        <mj-text>Your {{productName}} account is ready. Here is where to start.</mj-text>
        <mj-button href="{{actionUrl}}">Get started</mj-button>
        <mj-text css-class="muted">Questions? Just reply to this email.</mj-text>`),
  },
  'verify-email': {
    subject: 'Verify your email address for {{productName}}',
    mjml: section(`        <mj-text font-size="22px" font-weight="700">Confirm your email</mj-text>
        <mj-text>Hi {{name}}, please confirm that this is your email address.</mj-text>
        <mj-button href="{{verifyUrl}}">Verify email</mj-button>
        <mj-text css-class="muted">This link expires in {{expiresInHours}} hours. If you did not sign up for {{productName}}, ignore this email.</mj-text>`),
  },
  'password-reset': {
    subject: 'Reset your {{productName}} password',
    mjml: section(`        <mj-text font-size="22px" font-weight="700">Reset your password</mj-text>
        <mj-text>Hi {{name}}, we received a request to reset your password.</mj-text>
        <mj-button href="{{resetUrl}}">Choose a new password</mj-button>
        <mj-text css-class="muted">This link expires in {{expiresInMinutes}} minutes. If you did not ask for a reset, you can ignore this email: your password stays the same.</mj-text>`),
  },
  'workspace-invitation': {
    subject: '{{inviterName}} invited you to {{workspaceName}} on {{productName}}',
    mjml: section(`        <mj-text font-size="22px" font-weight="700">Join {{workspaceName}}</mj-text>
        <mj-text>{{inviterName}} invited you to collaborate in the {{workspaceName}} workspace on {{productName}}.</mj-text>
        <mj-button href="{{acceptUrl}}">Accept invitation</mj-button>
        <mj-text css-class="muted">If you were not expecting this invitation, you can ignore this email.</mj-text>`),
  },
  'notification-digest': {
    subject: 'Your {{productName}} digest: {{count}} updates',
    mjml: section(`        <mj-text font-size="22px" font-weight="700">Hi {{name}}, here is what happened {{period}}</mj-text>
        <mj-text>{{#each items}}<p style="margin:0 0 16px"><a href="{{url}}" style="color:#2563eb;font-weight:600">{{title}}</a><br />{{summary}}</p>{{/each}}</mj-text>
        <mj-text css-class="muted">{{#if manageUrl}}<a href="{{manageUrl}}" style="color:#6b7280">Manage notification settings</a>{{/if}}</mj-text>`),
  },
};
