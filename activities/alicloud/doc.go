// Package alicloud implements the alicloud.* actions on the classic Alibaba
// Cloud SDK (github.com/aliyun/alibaba-cloud-sdk-go).
package alicloud
