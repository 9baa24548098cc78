package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/server"
)

// destinationString describes a destination union for comparisons.
func destinationString(d types.DestinationConfiguration) string {
	switch v := d.(type) {
	case *types.DestinationConfigurationMemberS3:
		return "s3:" + aws.ToString(v.Value.BucketName)
	case *types.DestinationConfigurationMemberCloudWatchLogs:
		return "cloudWatchLogs:" + aws.ToString(v.Value.LogGroupName)
	case *types.DestinationConfigurationMemberFirehose:
		return "firehose:" + aws.ToString(v.Value.DeliveryStreamName)
	}
	return fmt.Sprintf("unexpected destination %T", d)
}

func TestLoggingConfigurationLifecycle(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()

	var arns []string
	for _, tc := range []struct {
		rule string
		dest types.DestinationConfiguration
		want string
	}{
		{"an S3 destination is stored and returned", s3Destination("my-bucket.logs"), "s3:my-bucket.logs"},
		{"a CloudWatch Logs destination is stored and returned",
			&types.DestinationConfigurationMemberCloudWatchLogs{Value: types.CloudWatchLogsDestinationConfiguration{LogGroupName: aws.String("/aws/ivschat#1")}},
			"cloudWatchLogs:/aws/ivschat#1"},
		{"a Firehose destination is stored and returned",
			&types.DestinationConfigurationMemberFirehose{Value: types.FirehoseDestinationConfiguration{DeliveryStreamName: aws.String("chat_stream.1-a")}},
			"firehose:chat_stream.1-a"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			out, err := c.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{
				Name: aws.String("cfg-1"), DestinationConfiguration: tc.dest, Tags: map[string]string{"env": "test"}})
			mustNoErr(t, err)
			id := aws.ToString(out.Id)
			if !isID(id) || aws.ToString(out.Arn) != arnOfLC(id) {
				t.Fatalf("id %q arn %q", id, aws.ToString(out.Arn))
			}
			if out.State != types.CreateLoggingConfigurationStateActive {
				t.Fatalf("state %q, want ACTIVE", out.State)
			}
			if got := destinationString(out.DestinationConfiguration); got != tc.want {
				t.Fatalf("CreateLoggingConfiguration destination %s, want %s", got, tc.want)
			}
			if aws.ToString(out.Name) != "cfg-1" || out.Tags["env"] != "test" || len(out.Tags) != 1 {
				t.Fatalf("name %q tags %v", aws.ToString(out.Name), out.Tags)
			}
			if out.CreateTime == nil || !out.CreateTime.Equal(aws.ToTime(out.UpdateTime)) {
				t.Fatalf("createTime %v updateTime %v", out.CreateTime, out.UpdateTime)
			}
			g, err := c.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: out.Arn})
			mustNoErr(t, err)
			if got := destinationString(g.DestinationConfiguration); got != tc.want || g.State != types.LoggingConfigurationStateActive ||
				aws.ToString(g.Id) != id || aws.ToString(g.Name) != "cfg-1" || g.Tags["env"] != "test" || !g.CreateTime.Equal(*out.CreateTime) {
				t.Fatalf("GetLoggingConfiguration %+v, destination %s", g, got)
			}
			arns = append(arns, aws.ToString(out.Arn))
		})
	}
	if len(arns) != 3 {
		t.FailNow()
	}

	t.Run("CreateLoggingConfiguration without a name or tags returns empty tags", func(t *testing.T) {
		out, err := c.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: s3Destination("abc")})
		mustNoErr(t, err)
		if aws.ToString(out.Name) != "" || out.Tags == nil || len(out.Tags) != 0 {
			t.Fatalf("name %q tags %#v", aws.ToString(out.Name), out.Tags)
		}
		arns = append(arns, aws.ToString(out.Arn))
	})

	t.Run("UpdateLoggingConfiguration with only a name keeps the destination and moves updateTime", func(t *testing.T) {
		before, err := c.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: aws.String(arns[0])})
		mustNoErr(t, err)
		out, err := c.UpdateLoggingConfiguration(ctx, &ivschat.UpdateLoggingConfigurationInput{Identifier: aws.String(arns[0]), Name: aws.String("renamed")})
		mustNoErr(t, err)
		if aws.ToString(out.Name) != "renamed" || destinationString(out.DestinationConfiguration) != "s3:my-bucket.logs" ||
			out.State != types.UpdateLoggingConfigurationStateActive || out.Tags["env"] != "test" {
			t.Fatalf("UpdateLoggingConfiguration %+v", out)
		}
		if !out.UpdateTime.After(*before.UpdateTime) || !out.CreateTime.Equal(*before.CreateTime) {
			t.Fatalf("updateTime %v (was %v), createTime %v (was %v)", out.UpdateTime, before.UpdateTime, out.CreateTime, before.CreateTime)
		}
	})

	t.Run("UpdateLoggingConfiguration with only a destination keeps the name and may change the destination type", func(t *testing.T) {
		out, err := c.UpdateLoggingConfiguration(ctx, &ivschat.UpdateLoggingConfigurationInput{Identifier: aws.String(arns[0]),
			DestinationConfiguration: &types.DestinationConfigurationMemberFirehose{Value: types.FirehoseDestinationConfiguration{DeliveryStreamName: aws.String("s")}}})
		mustNoErr(t, err)
		if aws.ToString(out.Name) != "renamed" || destinationString(out.DestinationConfiguration) != "firehose:s" {
			t.Fatalf("UpdateLoggingConfiguration %+v", out)
		}
		g, err := c.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: aws.String(arns[0])})
		mustNoErr(t, err)
		if aws.ToString(g.Name) != "renamed" || destinationString(g.DestinationConfiguration) != "firehose:s" {
			t.Fatalf("GetLoggingConfiguration %+v", g)
		}
	})

	t.Run("ListLoggingConfigurations lists every configuration, most recently updated first", func(t *testing.T) {
		out, err := c.ListLoggingConfigurations(ctx, &ivschat.ListLoggingConfigurationsInput{})
		mustNoErr(t, err)
		if out.NextToken != nil {
			t.Fatalf("nextToken %q on the only page", *out.NextToken)
		}
		var got []string
		for i, s := range out.LoggingConfigurations {
			got = append(got, aws.ToString(s.Arn))
			if s.State != types.LoggingConfigurationStateActive || s.CreateTime == nil || s.DestinationConfiguration == nil || s.Tags == nil {
				t.Fatalf("summary %+v", s)
			}
			if i > 0 && s.UpdateTime.After(*out.LoggingConfigurations[i-1].UpdateTime) {
				t.Fatal("not sorted by updateTime descending")
			}
		}
		if got[0] != arns[0] || len(got) != 4 {
			t.Fatalf("listed %v, want the 4 created with the updated one first", got)
		}
	})

	t.Run("the ListLoggingConfigurations paginator walks every configuration once", func(t *testing.T) {
		p := ivschat.NewListLoggingConfigurationsPaginator(c, &ivschat.ListLoggingConfigurationsInput{MaxResults: aws.Int32(3)})
		var got []string
		pages := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			mustNoErr(t, err)
			pages++
			for _, s := range page.LoggingConfigurations {
				got = append(got, aws.ToString(s.Arn))
			}
		}
		slices.Sort(got)
		want := slices.Clone(arns)
		slices.Sort(want)
		if pages != 2 || !slices.Equal(got, want) {
			t.Fatalf("%d pages of %v, want 2 pages of %v", pages, got, want)
		}
	})

	t.Run("ListLoggingConfigurations maxResults outside 1-50 is a ValidationException", func(t *testing.T) {
		for _, n := range []int32{0, 51, -1} {
			_, err := c.ListLoggingConfigurations(ctx, &ivschat.ListLoggingConfigurationsInput{MaxResults: aws.Int32(n)})
			wantValidation(t, err, "maxResults")
		}
	})

	t.Run("DeleteLoggingConfiguration of a configuration a room uses is a ConflictException naming the room", func(t *testing.T) {
		r := newRoom(t, c, &ivschat.CreateRoomInput{LoggingConfigurationIdentifiers: []string{arns[1]}})
		_, err := c.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: aws.String(arns[1])})
		ce := as[*types.ConflictException](t, err)
		if httpStatus(err) != http.StatusConflict || aws.ToString(ce.ResourceId) != aws.ToString(r.Id) || ce.ResourceType != types.ResourceTypeRoom || aws.ToString(ce.Message) == "" {
			t.Fatalf("status %d, ConflictException %+v, want the room %s", httpStatus(err), ce, aws.ToString(r.Id))
		}
		if _, err := c.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: aws.String(arns[1])}); err != nil {
			t.Fatalf("the configuration is gone after a refused delete: %v", err)
		}
		_, err = c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: r.Arn, LoggingConfigurationIdentifiers: []string{}})
		mustNoErr(t, err)
		_, err = c.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: aws.String(arns[1])})
		mustNoErr(t, err)
	})

	t.Run("a deleted configuration is ResourceNotFound for Get, Update, Delete, tags and rooms", func(t *testing.T) {
		id := idOf(arns[1])
		_, err := c.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: aws.String(arns[1])})
		wantNotFound(t, err, id)
		_, err = c.UpdateLoggingConfiguration(ctx, &ivschat.UpdateLoggingConfigurationInput{Identifier: aws.String(arns[1]), Name: aws.String("x")})
		wantNotFound(t, err, id)
		_, err = c.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: aws.String(arns[1])})
		wantNotFound(t, err, id)
		_, err = c.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: aws.String(arns[1])})
		wantNotFound(t, err, id)
		_, err = c.CreateRoom(ctx, &ivschat.CreateRoomInput{LoggingConfigurationIdentifiers: []string{arns[1]}})
		wantNotFound(t, err, id)
		out, err := c.ListLoggingConfigurations(ctx, &ivschat.ListLoggingConfigurationsInput{})
		mustNoErr(t, err)
		for _, s := range out.LoggingConfigurations {
			if aws.ToString(s.Arn) == arns[1] {
				t.Fatal("deleted configuration still listed")
			}
		}
	})

	t.Run("a room may use up to 3 configurations, not 4", func(t *testing.T) {
		r := newRoom(t, c, &ivschat.CreateRoomInput{LoggingConfigurationIdentifiers: []string{arns[0], arns[2], arns[3]}})
		if len(r.LoggingConfigurationIdentifiers) != 3 {
			t.Fatalf("room has %v", r.LoggingConfigurationIdentifiers)
		}
		extra := newLoggingConfiguration(t, c, "fourth")
		_, err := c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: r.Arn,
			LoggingConfigurationIdentifiers: []string{arns[0], arns[2], arns[3], aws.ToString(extra.Arn)}})
		wantValidation(t, err, "loggingConfigurationIdentifiers")
	})
}

func TestLoggingConfigurationQuota(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.MaxLoggingConfigurations = 2 })
	c := devClient(srv)
	ctx := context.Background()
	first := newLoggingConfiguration(t, c, "a")
	newLoggingConfiguration(t, c, "b")

	t.Run("creating past the quota is a ServiceQuotaExceededException with HTTP 402 and the limit", func(t *testing.T) {
		_, err := c.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: s3Destination("abc")})
		q := as[*types.ServiceQuotaExceededException](t, err)
		if httpStatus(err) != http.StatusPaymentRequired || q.Limit != 2 || aws.ToString(q.Message) == "" || q.ResourceType == "" {
			t.Fatalf("status %d, %+v", httpStatus(err), q)
		}
		out, err := c.ListLoggingConfigurations(ctx, &ivschat.ListLoggingConfigurationsInput{})
		mustNoErr(t, err)
		if len(out.LoggingConfigurations) != 2 {
			t.Fatalf("%d configurations after a refused create", len(out.LoggingConfigurations))
		}
	})

	t.Run("deleting one makes room for another", func(t *testing.T) {
		_, err := c.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: first.Arn})
		mustNoErr(t, err)
		newLoggingConfiguration(t, c, "c")
	})
}

func TestLoggingConfigurationValidation(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	lc := newLoggingConfiguration(t, c, "ok")
	room := newRoom(t, c, nil)
	for _, tc := range []struct {
		rule   string
		in     ivschat.CreateLoggingConfigurationInput
		fields []string
	}{
		{"a bucket name shorter than 3 is refused", ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: s3Destination("ab")},
			[]string{"destinationConfiguration.s3.bucketName"}},
		{"a bucket name with capitals is refused", ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: s3Destination("MyBucket")},
			[]string{"destinationConfiguration.s3.bucketName"}},
		{"a log group name with a space is refused", ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: &types.DestinationConfigurationMemberCloudWatchLogs{
			Value: types.CloudWatchLogsDestinationConfiguration{LogGroupName: aws.String("has space")}}}, []string{"destinationConfiguration.cloudWatchLogs.logGroupName"}},
		{"an empty log group name is refused", ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: &types.DestinationConfigurationMemberCloudWatchLogs{
			Value: types.CloudWatchLogsDestinationConfiguration{LogGroupName: aws.String("")}}}, []string{"destinationConfiguration.cloudWatchLogs.logGroupName"}},
		{"a delivery stream name over 64 characters is refused", ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: &types.DestinationConfigurationMemberFirehose{
			Value: types.FirehoseDestinationConfiguration{DeliveryStreamName: aws.String(strings.Repeat("s", 65))}}}, []string{"destinationConfiguration.firehose.deliveryStreamName"}},
		{"a name outside [a-zA-Z0-9-_] is refused", ivschat.CreateLoggingConfigurationInput{Name: aws.String("bad name"), DestinationConfiguration: s3Destination("abc")},
			[]string{"name"}},
		{"a name over 128 characters is refused", ivschat.CreateLoggingConfigurationInput{Name: aws.String(strings.Repeat("n", 129)), DestinationConfiguration: s3Destination("abc")},
			[]string{"name"}},
		{"every failing member is named at once", ivschat.CreateLoggingConfigurationInput{Name: aws.String("bad name"), DestinationConfiguration: s3Destination("ab"),
			Tags: map[string]string{strings.Repeat("k", 129): "v"}},
			[]string{"name", "destinationConfiguration.s3.bucketName", "tags." + strings.Repeat("k", 129)}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			in := tc.in
			_, err := c.CreateLoggingConfiguration(ctx, &in)
			wantValidation(t, err, tc.fields...)
		})
	}

	for _, tc := range []struct {
		rule   string
		call   func() error
		fields []string
	}{
		{"GetLoggingConfiguration with a room ARN is refused", func() error {
			_, err := c.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: room.Arn})
			return err
		}, []string{"identifier"}},
		{"GetLoggingConfiguration with a bare id is refused: identifiers must be ARNs", func() error {
			_, err := c.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: lc.Id})
			return err
		}, []string{"identifier"}},
		{"UpdateLoggingConfiguration with a bad name and destination names both", func() error {
			_, err := c.UpdateLoggingConfiguration(ctx, &ivschat.UpdateLoggingConfigurationInput{Identifier: lc.Arn, Name: aws.String("a b"), DestinationConfiguration: s3Destination("x")})
			return err
		}, []string{"name", "destinationConfiguration.s3.bucketName"}},
		{"DeleteLoggingConfiguration with an identifier over 128 characters is refused", func() error {
			_, err := c.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: aws.String(arnOfLC(strings.Repeat("A", 100)))})
			return err
		}, []string{"identifier"}},
	} {
		t.Run(tc.rule, func(t *testing.T) { wantValidation(t, tc.call(), tc.fields...) })
	}

	t.Run("a refused update leaves the configuration as it was", func(t *testing.T) {
		g, err := c.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: lc.Arn})
		mustNoErr(t, err)
		if aws.ToString(g.Name) != "ok" || destinationString(g.DestinationConfiguration) != "s3:chat-logs" || !g.UpdateTime.Equal(*lc.UpdateTime) {
			t.Fatalf("configuration changed: %+v", g)
		}
	})
}
