// alerts: turns status changes into alerts (one per transition, resolved, reminders, flapping) and delivers them to webhooks and notifiers.
export { AlertDispatcher, type AlertDispatcherOptions, type AlertTarget } from './dispatcher';
export { webhookNotifier, type WebhookOptions } from './webhook';
export { DeliveryError, type Alert, type AlertLevel, type AlertStatus, type Notifier } from './alert';
