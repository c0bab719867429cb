// alerts: turns status changes into alerts (one per transition, resolved, reminders, flapping) and delivers them to webhooks and notifiers.
export { AlertDispatcher, type AlertDispatcherOptions, type AlertTarget } from './dispatcher';
export { webhookNotifier, type WebhookOptions } from './webhook';
export { ntfyNotifier, type NtfyOptions } from './targets/ntfy';
export { slackNotifier, type SlackOptions } from './targets/slack';
export { teamsNotifier, type TeamsOptions } from './targets/teams';
export { discordNotifier, type DiscordOptions } from './targets/discord';
export {
  alertmanagerNotifier,
  ALERTMANAGER_AT_RISK_ALERT,
  ALERTMANAGER_FLAPPING_ALERT,
  ALERTMANAGER_MAX_ALERTS,
  ALERTMANAGER_STATUS_ALERT,
  type AlertmanagerOptions,
} from './targets/alertmanager';
export { DeliveryError, type Alert, type AlertLevel, type AlertStatus, type Notifier } from './alert';
