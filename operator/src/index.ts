export * from './api/v1alpha1/maildomain.js';
export { generateDkimKey } from './controller/dkim.js';
export { FINALIZER } from './controller/maildomain-reconciler.js';
export { KubeClient, type RequestObserver } from './kube/kube-client.js';
export { createOperatorMetrics, type OperatorMetrics } from './metrics.js';
export { CONTROLLER_NAME, FIELD_MANAGER, Operator, type OperatorOptions } from './operator.js';
