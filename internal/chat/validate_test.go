package chat

import (
	"encoding/json"
	"strings"
	"testing"
)

const lambdaPrefix = "arn:aws:lambda:us-west-2:123456789012:function:"

var (
	validLambda = lambdaPrefix + "review"
	// 170 and 171 code points: the edges of LambdaArn's length.
	lambda170 = lambdaPrefix + str("f", 170-len(lambdaPrefix))
	lambda171 = lambdaPrefix + str("f", 171-len(lambdaPrefix))
)

func TestCreateRoomInputValidate(t *testing.T) {
	tests := []struct {
		name string
		in   CreateRoomInput
		want []string // failing members; none means valid
	}{
		{"no members is valid", CreateRoomInput{}, nil},
		{"name of 128 characters is valid", CreateRoomInput{Name: ptr(str("a", 128))}, nil},
		{"empty name is valid", CreateRoomInput{Name: ptr("")}, nil},
		{"name with letters digits hyphen underscore is valid", CreateRoomInput{Name: ptr("Room-1_b")}, nil},
		{"name of 129 characters fails", CreateRoomInput{Name: ptr(str("a", 129))}, []string{"name"}},
		{"name with a space fails", CreateRoomInput{Name: ptr("my room")}, []string{"name"}},
		{"name with a dot fails", CreateRoomInput{Name: ptr("my.room")}, []string{"name"}},
		{"name with a non-ASCII letter fails", CreateRoomInput{Name: ptr("café")}, []string{"name"}},
		{"name with a trailing newline fails", CreateRoomInput{Name: ptr("room\n")}, []string{"name"}},

		{"rate 1 is valid", CreateRoomInput{MaximumMessageRatePerSecond: ptr(1)}, nil},
		{"rate 100 is valid", CreateRoomInput{MaximumMessageRatePerSecond: ptr(100)}, nil},
		{"rate 0 fails", CreateRoomInput{MaximumMessageRatePerSecond: ptr(0)}, []string{"maximumMessageRatePerSecond"}},
		{"rate 101 fails", CreateRoomInput{MaximumMessageRatePerSecond: ptr(101)}, []string{"maximumMessageRatePerSecond"}},
		{"negative rate fails", CreateRoomInput{MaximumMessageRatePerSecond: ptr(-1)}, []string{"maximumMessageRatePerSecond"}},

		{"length 1 is valid", CreateRoomInput{MaximumMessageLength: ptr(1)}, nil},
		{"length 500 is valid", CreateRoomInput{MaximumMessageLength: ptr(500)}, nil},
		{"length 0 fails", CreateRoomInput{MaximumMessageLength: ptr(0)}, []string{"maximumMessageLength"}},
		{"length 501 fails", CreateRoomInput{MaximumMessageLength: ptr(501)}, []string{"maximumMessageLength"}},

		{"empty handler is valid", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{}}, nil},
		{"handler uri empty is valid", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr("")}}, nil},
		{"handler uri Lambda ARN is valid", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr(validLambda)}}, nil},
		{"handler uri of 170 characters is valid", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr(lambda170)}}, nil},
		{"handler uri of 170 characters with multi-byte ones is valid", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr(lambdaPrefix + str("é", 170-len(lambdaPrefix)))}}, nil},
		{"handler uri of 171 multi-byte characters fails", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr(lambdaPrefix + str("é", 171-len(lambdaPrefix)))}}, []string{"messageReviewHandler.uri"}},
		{"handler uri of 171 characters fails", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr(lambda171)}}, []string{"messageReviewHandler.uri"}},
		{"handler uri with an 11-digit account fails", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr("arn:aws:lambda:us-west-2:12345678901:function:f")}}, []string{"messageReviewHandler.uri"}},
		{"handler uri with no function name fails", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr(lambdaPrefix)}}, []string{"messageReviewHandler.uri"}},
		{"handler uri of an HTTP URL fails", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr("https://example.com/review")}}, []string{"messageReviewHandler.uri"}},
		{"handler fallback ALLOW is valid", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{FallbackResult: ptr("ALLOW")}}, nil},
		{"handler fallback DENY is valid", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{FallbackResult: ptr("DENY")}}, nil},
		{"handler fallback in lower case fails", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{FallbackResult: ptr("allow")}}, []string{"messageReviewHandler.fallbackResult"}},
		{"handler fallback empty fails", CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{FallbackResult: ptr("")}}, []string{"messageReviewHandler.fallbackResult"}},

		{"50 tags are valid", CreateRoomInput{Tags: tagsOf(50)}, nil},
		{"51 tags fail", CreateRoomInput{Tags: tagsOf(51)}, []string{"tags"}},
		{"tag key of 128 multi-byte characters is valid", CreateRoomInput{Tags: map[string]string{str("é", 128): "v"}}, nil},
		{"tag key of 129 multi-byte characters fails", CreateRoomInput{Tags: map[string]string{str("é", 129): "v"}}, []string{"tags." + str("é", 129)}},
		{"empty tag key fails", CreateRoomInput{Tags: map[string]string{"": "v"}}, []string{"tags."}},
		{"empty tag value is valid", CreateRoomInput{Tags: map[string]string{"k": ""}}, nil},
		{"tag value of 256 multi-byte characters is valid", CreateRoomInput{Tags: map[string]string{"k": str("😀", 256)}}, nil},
		{"tag value of 257 characters fails", CreateRoomInput{Tags: map[string]string{"k": str("v", 257)}}, []string{"tags.k"}},

		{"empty logging list is valid", CreateRoomInput{LoggingConfigurationIdentifiers: []string{}}, nil},
		{"3 logging configurations are valid", CreateRoomInput{LoggingConfigurationIdentifiers: []string{testLogARN, testLogARN, testLogARN}}, nil},
		{"4 logging configurations fail", CreateRoomInput{LoggingConfigurationIdentifiers: []string{testLogARN, testLogARN, testLogARN, testLogARN}}, []string{"loggingConfigurationIdentifiers"}},
		{"a room ARN as logging configuration fails", CreateRoomInput{LoggingConfigurationIdentifiers: []string{testRoomARN}}, []string{"loggingConfigurationIdentifiers"}},
		{"a bare id as logging configuration fails", CreateRoomInput{LoggingConfigurationIdentifiers: []string{"ABCDabcd0123"}}, []string{"loggingConfigurationIdentifiers"}},
		{"an empty logging configuration identifier fails", CreateRoomInput{LoggingConfigurationIdentifiers: []string{""}}, []string{"loggingConfigurationIdentifiers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Validate()
			assertFields(t, err, tt.want...)
		})
	}
	t.Run("returns the parsed logging configuration ARNs", func(t *testing.T) {
		in := CreateRoomInput{LoggingConfigurationIdentifiers: []string{testLogARN}}
		arns, err := in.Validate()
		if err != nil || len(arns) != 1 || arns[0].String() != testLogARN {
			t.Fatalf("Validate() = %v, %v", arns, err)
		}
	})
	t.Run("names every failing member at once", func(t *testing.T) {
		in := CreateRoomInput{
			Name:                            ptr("bad name"),
			MaximumMessageRatePerSecond:     ptr(0),
			MaximumMessageLength:            ptr(501),
			MessageReviewHandler:            &MessageReviewHandlerInput{URI: ptr("x"), FallbackResult: ptr("MAYBE")},
			Tags:                            map[string]string{"k": str("v", 257)},
			LoggingConfigurationIdentifiers: []string{testRoomARN},
		}
		_, err := in.Validate()
		assertFields(t, err, "name", "maximumMessageRatePerSecond", "maximumMessageLength",
			"messageReviewHandler.uri", "messageReviewHandler.fallbackResult", "tags.k", "loggingConfigurationIdentifiers")
	})
}

func TestUpdateRoomInputValidate(t *testing.T) {
	tests := []struct {
		name string
		in   UpdateRoomInput
		want []string
	}{
		{"identifier alone is valid", UpdateRoomInput{Identifier: testRoomARN}, nil},
		{"identifier is required", UpdateRoomInput{}, []string{"identifier"}},
		{"identifier must be a room ARN", UpdateRoomInput{Identifier: testLogARN}, []string{"identifier"}},
		{"identifier must not be a bare id", UpdateRoomInput{Identifier: "AbCdEfGh1234"}, []string{"identifier"}},
		{"name of 129 characters fails", UpdateRoomInput{Identifier: testRoomARN, Name: ptr(str("a", 129))}, []string{"name"}},
		{"rate 101 fails", UpdateRoomInput{Identifier: testRoomARN, MaximumMessageRatePerSecond: ptr(101)}, []string{"maximumMessageRatePerSecond"}},
		{"length 0 fails", UpdateRoomInput{Identifier: testRoomARN, MaximumMessageLength: ptr(0)}, []string{"maximumMessageLength"}},
		{"handler uri empty is valid", UpdateRoomInput{Identifier: testRoomARN, MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr("")}}, nil},
		{"handler fallback unknown fails", UpdateRoomInput{Identifier: testRoomARN, MessageReviewHandler: &MessageReviewHandlerInput{FallbackResult: ptr("NONE")}}, []string{"messageReviewHandler.fallbackResult"}},
		{"empty logging list is valid", UpdateRoomInput{Identifier: testRoomARN, LoggingConfigurationIdentifiers: &[]string{}}, nil},
		{"4 logging configurations fail", UpdateRoomInput{Identifier: testRoomARN, LoggingConfigurationIdentifiers: &[]string{testLogARN, testLogARN, testLogARN, testLogARN}}, []string{"loggingConfigurationIdentifiers"}},
		{"every failing member at once", UpdateRoomInput{Identifier: "x", Name: ptr("a b"), MaximumMessageRatePerSecond: ptr(0),
			MaximumMessageLength: ptr(1000), LoggingConfigurationIdentifiers: &[]string{"y"}},
			[]string{"identifier", "name", "maximumMessageRatePerSecond", "maximumMessageLength", "loggingConfigurationIdentifiers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.in.Validate()
			assertFields(t, err, tt.want...)
		})
	}
	t.Run("returns the room ARN and logging ARNs", func(t *testing.T) {
		in := UpdateRoomInput{Identifier: testRoomARN, LoggingConfigurationIdentifiers: &[]string{testLogARN}}
		room, arns, err := in.Validate()
		if err != nil || room.String() != testRoomARN || len(arns) != 1 || arns[0].String() != testLogARN {
			t.Fatalf("Validate() = %v, %v, %v", room, arns, err)
		}
	})
}

func TestCreateLoggingConfigurationInputValidate(t *testing.T) {
	tests := []struct {
		name string
		dest string // raw destinationConfiguration; "" leaves it out
		want []string
		kind string // which member the valid destination sets
	}{
		{"s3 is valid", `{"s3":{"bucketName":"my-bucket.logs"}}`, nil, "s3"},
		{"cloudWatchLogs is valid", `{"cloudWatchLogs":{"logGroupName":"/aws/ivs/chat#1_a.b-c"}}`, nil, "cloudWatchLogs"},
		{"firehose is valid", `{"firehose":{"deliveryStreamName":"stream_1.a-b"}}`, nil, "firehose"},
		{"a null member beside one member is valid", `{"s3":null,"firehose":{"deliveryStreamName":"s"}}`, nil, "firehose"},

		{"absent destination fails as required", "", []string{"destinationConfiguration"}, ""},
		{"null destination fails as required", `null`, []string{"destinationConfiguration"}, ""},
		{"no members fails", `{}`, []string{"destinationConfiguration"}, ""},
		{"only null members fails", `{"s3":null,"firehose":null}`, []string{"destinationConfiguration"}, ""},
		{"two members fail", `{"s3":{"bucketName":"my-bucket"},"firehose":{"deliveryStreamName":"s"}}`, []string{"destinationConfiguration"}, ""},
		{"three members fail", `{"s3":{"bucketName":"my-bucket"},"firehose":{"deliveryStreamName":"s"},"cloudWatchLogs":{"logGroupName":"g"}}`, []string{"destinationConfiguration"}, ""},
		{"an unknown member fails", `{"kinesis":{"streamName":"s"}}`, []string{"destinationConfiguration.kinesis"}, ""},
		{"an unknown member beside a known one fails", `{"s3":{"bucketName":"my-bucket"},"kinesis":{"streamName":"s"}}`, []string{"destinationConfiguration.kinesis"}, ""},
		{"an unknown null member alone fails", `{"kinesis":null}`, []string{"destinationConfiguration"}, ""},
		{"member names are case-sensitive", `{"S3":{"bucketName":"my-bucket"}}`, []string{"destinationConfiguration.S3"}, ""},
		{"an array fails", `[{"s3":{"bucketName":"my-bucket"}}]`, []string{"destinationConfiguration"}, ""},
		{"a string fails", `"s3"`, []string{"destinationConfiguration"}, ""},
		{"a number fails", `1`, []string{"destinationConfiguration"}, ""},
		{"a member that is not an object fails", `{"s3":"my-bucket"}`, []string{"destinationConfiguration.s3"}, ""},
		{"a member with a non-string field fails", `{"s3":{"bucketName":5}}`, []string{"destinationConfiguration.s3"}, ""},
		{"s3 without bucketName fails", `{"s3":{}}`, []string{"destinationConfiguration.s3.bucketName"}, ""},

		{"bucketName of 3 characters is valid", `{"s3":{"bucketName":"abc"}}`, nil, "s3"},
		{"bucketName of 63 characters is valid", `{"s3":{"bucketName":"` + str("b", 63) + `"}}`, nil, "s3"},
		{"bucketName of 2 characters fails", `{"s3":{"bucketName":"ab"}}`, []string{"destinationConfiguration.s3.bucketName"}, ""},
		{"bucketName of 64 characters fails", `{"s3":{"bucketName":"` + str("b", 64) + `"}}`, []string{"destinationConfiguration.s3.bucketName"}, ""},
		{"bucketName in upper case fails", `{"s3":{"bucketName":"MyBucket"}}`, []string{"destinationConfiguration.s3.bucketName"}, ""},
		{"bucketName with underscore fails", `{"s3":{"bucketName":"my_bucket"}}`, []string{"destinationConfiguration.s3.bucketName"}, ""},
		{"logGroupName of 512 characters is valid", `{"cloudWatchLogs":{"logGroupName":"` + str("g", 512) + `"}}`, nil, "cloudWatchLogs"},
		{"logGroupName of 513 characters fails", `{"cloudWatchLogs":{"logGroupName":"` + str("g", 513) + `"}}`, []string{"destinationConfiguration.cloudWatchLogs.logGroupName"}, ""},
		{"empty logGroupName fails", `{"cloudWatchLogs":{"logGroupName":""}}`, []string{"destinationConfiguration.cloudWatchLogs.logGroupName"}, ""},
		{"logGroupName with a space fails", `{"cloudWatchLogs":{"logGroupName":"a b"}}`, []string{"destinationConfiguration.cloudWatchLogs.logGroupName"}, ""},
		{"deliveryStreamName of 64 characters is valid", `{"firehose":{"deliveryStreamName":"` + str("s", 64) + `"}}`, nil, "firehose"},
		{"deliveryStreamName of 65 characters fails", `{"firehose":{"deliveryStreamName":"` + str("s", 65) + `"}}`, []string{"destinationConfiguration.firehose.deliveryStreamName"}, ""},
		{"deliveryStreamName with a slash fails", `{"firehose":{"deliveryStreamName":"a/b"}}`, []string{"destinationConfiguration.firehose.deliveryStreamName"}, ""},
		{"deliveryStreamName with a multi-byte letter fails", `{"firehose":{"deliveryStreamName":"é"}}`, []string{"destinationConfiguration.firehose.deliveryStreamName"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := CreateLoggingConfigurationInput{}
			if tt.dest != "" {
				in.DestinationConfiguration = json.RawMessage(tt.dest)
			}
			d, err := in.Validate()
			assertFields(t, err, tt.want...)
			if err != nil {
				return
			}
			set := map[string]bool{"s3": d.S3 != nil, "cloudWatchLogs": d.CloudWatchLogs != nil, "firehose": d.Firehose != nil}
			for k, v := range set {
				if v != (k == tt.kind) {
					t.Fatalf("destination %+v: member %s set = %v, want only %s", d, k, v, tt.kind)
				}
			}
		})
	}
	dest := json.RawMessage(`{"s3":{"bucketName":"my-bucket"}}`)
	t.Run("name follows the room name rules", func(t *testing.T) {
		for _, n := range []string{"", "cfg-1_x", str("a", 128)} {
			in := CreateLoggingConfigurationInput{Name: ptr(n), DestinationConfiguration: dest}
			if _, err := in.Validate(); err != nil {
				t.Fatalf("name %q: %v", n, err)
			}
		}
		for _, n := range []string{str("a", 129), "a b", "é"} {
			in := CreateLoggingConfigurationInput{Name: ptr(n), DestinationConfiguration: dest}
			_, err := in.Validate()
			assertFields(t, err, "name")
		}
	})
	t.Run("50 tags are valid and 51 fail", func(t *testing.T) {
		in := CreateLoggingConfigurationInput{DestinationConfiguration: dest, Tags: tagsOf(50)}
		if _, err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		in.Tags = tagsOf(51)
		_, err := in.Validate()
		assertFields(t, err, "tags")
	})
	t.Run("names every failing member at once", func(t *testing.T) {
		in := CreateLoggingConfigurationInput{Name: ptr("a b"), DestinationConfiguration: json.RawMessage(`{}`), Tags: map[string]string{"": ""}}
		_, err := in.Validate()
		assertFields(t, err, "name", "destinationConfiguration", "tags.")
	})
	t.Run("the destination decodes to the stored shape", func(t *testing.T) {
		in := CreateLoggingConfigurationInput{DestinationConfiguration: json.RawMessage(`{"cloudWatchLogs":{"logGroupName":"grp"}}`)}
		d, err := in.Validate()
		if err != nil {
			t.Fatal(err)
		}
		if got := string(Encode(d)); got != `{"cloudWatchLogs":{"logGroupName":"grp"}}` {
			t.Fatalf("encoded destination = %s", got)
		}
	})
}

func TestUpdateLoggingConfigurationInputValidate(t *testing.T) {
	tests := []struct {
		name     string
		in       UpdateLoggingConfigurationInput
		want     []string
		wantDest bool
	}{
		{"identifier alone is valid and keeps the destination", UpdateLoggingConfigurationInput{Identifier: testLogARN}, nil, false},
		{"identifier is required", UpdateLoggingConfigurationInput{}, []string{"identifier"}, false},
		{"identifier must be a logging-configuration ARN", UpdateLoggingConfigurationInput{Identifier: testRoomARN}, []string{"identifier"}, false},
		{"null destination keeps it", UpdateLoggingConfigurationInput{Identifier: testLogARN, DestinationConfiguration: json.RawMessage(`null`)}, nil, false},
		{"a valid destination replaces it", UpdateLoggingConfigurationInput{Identifier: testLogARN, DestinationConfiguration: json.RawMessage(`{"firehose":{"deliveryStreamName":"s"}}`)}, nil, true},
		{"an empty destination fails", UpdateLoggingConfigurationInput{Identifier: testLogARN, DestinationConfiguration: json.RawMessage(`{}`)}, []string{"destinationConfiguration"}, false},
		{"two destination members fail", UpdateLoggingConfigurationInput{Identifier: testLogARN, DestinationConfiguration: json.RawMessage(`{"s3":{"bucketName":"abc"},"firehose":{"deliveryStreamName":"s"}}`)}, []string{"destinationConfiguration"}, false},
		{"a bad name fails", UpdateLoggingConfigurationInput{Identifier: testLogARN, Name: ptr("a.b")}, []string{"name"}, false},
		{"every failing member at once", UpdateLoggingConfigurationInput{Name: ptr("a.b"), DestinationConfiguration: json.RawMessage(`{"s3":{"bucketName":"A"}}`)},
			[]string{"identifier", "name", "destinationConfiguration.s3.bucketName"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dest, err := tt.in.Validate()
			assertFields(t, err, tt.want...)
			if err == nil && (dest != nil) != tt.wantDest {
				t.Fatalf("destination = %+v, want set %v", dest, tt.wantDest)
			}
		})
	}
}

func TestCreateChatTokenInputValidate(t *testing.T) {
	valid := func(change func(*CreateChatTokenInput)) CreateChatTokenInput {
		in := CreateChatTokenInput{RoomIdentifier: testRoomARN, UserID: ptr("alice")}
		if change != nil {
			change(&in)
		}
		return in
	}
	tests := []struct {
		name string
		in   CreateChatTokenInput
		want []string
	}{
		{"room and user are valid", valid(nil), nil},
		{"roomIdentifier is required", valid(func(in *CreateChatTokenInput) { in.RoomIdentifier = "" }), []string{"roomIdentifier"}},
		{"roomIdentifier must be a room ARN", valid(func(in *CreateChatTokenInput) { in.RoomIdentifier = testLogARN }), []string{"roomIdentifier"}},
		{"userId is required", valid(func(in *CreateChatTokenInput) { in.UserID = nil }), []string{"userId"}},
		{"empty userId fails", valid(func(in *CreateChatTokenInput) { in.UserID = ptr("") }), []string{"userId"}},
		{"userId of 128 four-byte characters is valid", valid(func(in *CreateChatTokenInput) { in.UserID = ptr(str("😀", 128)) }), nil},
		{"userId of 129 characters fails", valid(func(in *CreateChatTokenInput) { in.UserID = ptr(str("u", 129)) }), []string{"userId"}},
		{"userId of invalid UTF-8 fails", valid(func(in *CreateChatTokenInput) { in.UserID = ptr("\xff") }), []string{"userId"}},
		{"every capability is valid", valid(func(in *CreateChatTokenInput) {
			in.Capabilities = []string{"SEND_MESSAGE", "DISCONNECT_USER", "DELETE_MESSAGE"}
		}), nil},
		{"no capabilities are valid", valid(func(in *CreateChatTokenInput) { in.Capabilities = []string{} }), nil},
		{"an unknown capability fails", valid(func(in *CreateChatTokenInput) { in.Capabilities = []string{"SEND_MESSAGE", "VIEW_MESSAGE"} }), []string{"capabilities"}},
		{"a lower-case capability fails", valid(func(in *CreateChatTokenInput) { in.Capabilities = []string{"send_message"} }), []string{"capabilities"}},
		{"session of 1 minute is valid", valid(func(in *CreateChatTokenInput) { in.SessionDurationInMinutes = ptr(1) }), nil},
		{"session of 180 minutes is valid", valid(func(in *CreateChatTokenInput) { in.SessionDurationInMinutes = ptr(180) }), nil},
		{"session of 0 minutes fails", valid(func(in *CreateChatTokenInput) { in.SessionDurationInMinutes = ptr(0) }), []string{"sessionDurationInMinutes"}},
		{"session of 181 minutes fails", valid(func(in *CreateChatTokenInput) { in.SessionDurationInMinutes = ptr(181) }), []string{"sessionDurationInMinutes"}},
		{"attributes of 1024 bytes are valid", valid(func(in *CreateChatTokenInput) { in.Attributes = map[string]string{"k": str("a", 1023)} }), nil},
		{"attributes of 1025 bytes fail", valid(func(in *CreateChatTokenInput) { in.Attributes = map[string]string{"k": str("a", 1024)} }), []string{"attributes"}},
		{"attributes count bytes, not characters", valid(func(in *CreateChatTokenInput) { in.Attributes = map[string]string{"k": str("é", 512)} }), []string{"attributes"}},
		{"attributes count keys and values over every entry", valid(func(in *CreateChatTokenInput) {
			in.Attributes = map[string]string{"a": str("x", 511), "b": str("y", 511)} // 1024
		}), nil},
		{"attributes over every entry past 1024 fail", valid(func(in *CreateChatTokenInput) {
			in.Attributes = map[string]string{"a": str("x", 511), "bb": str("y", 511)} // 1025
		}), []string{"attributes"}},
		{"every failing member at once", CreateChatTokenInput{Capabilities: []string{"X"}, SessionDurationInMinutes: ptr(0),
			Attributes: map[string]string{"k": str("a", 2000)}},
			[]string{"roomIdentifier", "userId", "capabilities", "sessionDurationInMinutes", "attributes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Validate()
			assertFields(t, err, tt.want...)
		})
	}
}

func TestSendEventInputValidate(t *testing.T) {
	tests := []struct {
		name string
		in   SendEventInput
		want []string
	}{
		{"room and name are valid", SendEventInput{RoomIdentifier: testRoomARN, EventName: ptr("join")}, nil},
		{"eventName is required", SendEventInput{RoomIdentifier: testRoomARN}, []string{"eventName"}},
		{"empty eventName fails", SendEventInput{RoomIdentifier: testRoomARN, EventName: ptr("")}, []string{"eventName"}},
		{"eventName of 100 multi-byte characters is valid", SendEventInput{RoomIdentifier: testRoomARN, EventName: ptr(str("ü", 100))}, nil},
		{"eventName of 101 characters fails", SendEventInput{RoomIdentifier: testRoomARN, EventName: ptr(str("e", 101))}, []string{"eventName"}},
		{"attributes of 1024 bytes are valid", SendEventInput{RoomIdentifier: testRoomARN, EventName: ptr("e"), Attributes: map[string]string{str("k", 24): str("v", 1000)}}, nil},
		{"attributes of 1025 bytes fail", SendEventInput{RoomIdentifier: testRoomARN, EventName: ptr("e"), Attributes: map[string]string{str("k", 25): str("v", 1000)}}, []string{"attributes"}},
		{"roomIdentifier must be a room ARN", SendEventInput{RoomIdentifier: "AbCdEfGh1234", EventName: ptr("e")}, []string{"roomIdentifier"}},
		{"every failing member at once", SendEventInput{Attributes: map[string]string{"k": str("v", 1024)}}, []string{"roomIdentifier", "eventName", "attributes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Validate()
			assertFields(t, err, tt.want...)
		})
	}
}

func TestDeleteMessageInputValidate(t *testing.T) {
	tests := []struct {
		name string
		in   DeleteMessageInput
		want []string
	}{
		{"room and id are valid", DeleteMessageInput{RoomIdentifier: testRoomARN, ID: ptr("WhO6MW6iRdS5")}, nil},
		{"id is required", DeleteMessageInput{RoomIdentifier: testRoomARN}, []string{"id"}},
		{"id of 11 characters fails", DeleteMessageInput{RoomIdentifier: testRoomARN, ID: ptr("WhO6MW6iRdS")}, []string{"id"}},
		{"id of 13 characters fails", DeleteMessageInput{RoomIdentifier: testRoomARN, ID: ptr("WhO6MW6iRdS50")}, []string{"id"}},
		{"id with a hyphen fails", DeleteMessageInput{RoomIdentifier: testRoomARN, ID: ptr("WhO6MW6-RdS5")}, []string{"id"}},
		{"reason of 256 multi-byte characters is valid", DeleteMessageInput{RoomIdentifier: testRoomARN, ID: ptr("WhO6MW6iRdS5"), Reason: ptr(str("ß", 256))}, nil},
		{"reason of 257 characters fails", DeleteMessageInput{RoomIdentifier: testRoomARN, ID: ptr("WhO6MW6iRdS5"), Reason: ptr(str("r", 257))}, []string{"reason"}},
		{"empty reason fails", DeleteMessageInput{RoomIdentifier: testRoomARN, ID: ptr("WhO6MW6iRdS5"), Reason: ptr("")}, []string{"reason"}},
		{"every failing member at once", DeleteMessageInput{RoomIdentifier: testLogARN, ID: ptr("x"), Reason: ptr("")}, []string{"roomIdentifier", "id", "reason"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Validate()
			assertFields(t, err, tt.want...)
		})
	}
}

func TestDisconnectUserInputValidate(t *testing.T) {
	tests := []struct {
		name string
		in   DisconnectUserInput
		want []string
	}{
		{"room and user are valid", DisconnectUserInput{RoomIdentifier: testRoomARN, UserID: ptr("bob")}, nil},
		{"userId is required", DisconnectUserInput{RoomIdentifier: testRoomARN}, []string{"userId"}},
		{"empty userId fails", DisconnectUserInput{RoomIdentifier: testRoomARN, UserID: ptr("")}, []string{"userId"}},
		{"userId of 128 multi-byte characters is valid", DisconnectUserInput{RoomIdentifier: testRoomARN, UserID: ptr(str("名", 128))}, nil},
		{"userId of 129 characters fails", DisconnectUserInput{RoomIdentifier: testRoomARN, UserID: ptr(str("u", 129))}, []string{"userId"}},
		{"reason of 256 characters is valid", DisconnectUserInput{RoomIdentifier: testRoomARN, UserID: ptr("bob"), Reason: ptr(str("r", 256))}, nil},
		{"reason of 257 characters fails", DisconnectUserInput{RoomIdentifier: testRoomARN, UserID: ptr("bob"), Reason: ptr(str("r", 257))}, []string{"reason"}},
		{"every failing member at once", DisconnectUserInput{Reason: ptr("")}, []string{"roomIdentifier", "userId", "reason"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Validate()
			assertFields(t, err, tt.want...)
		})
	}
}

func TestTagValidation(t *testing.T) {
	t.Run("TagResource requires tags", func(t *testing.T) {
		assertFields(t, (&TagResourceInput{}).Validate(), "tags")
	})
	t.Run("TagResource accepts empty tags", func(t *testing.T) {
		assertFields(t, (&TagResourceInput{Tags: map[string]string{}}).Validate())
	})
	t.Run("TagResource accepts 50 tags and refuses 51", func(t *testing.T) {
		assertFields(t, (&TagResourceInput{Tags: tagsOf(50)}).Validate())
		assertFields(t, (&TagResourceInput{Tags: tagsOf(51)}).Validate(), "tags")
	})
	t.Run("TagResource checks key and value lengths", func(t *testing.T) {
		in := &TagResourceInput{Tags: map[string]string{str("k", 129): "v", "ok": str("v", 257), str("ñ", 128): str("ñ", 256)}}
		assertFields(t, in.Validate(), "tags."+str("k", 129), "tags.ok")
	})

	t.Run("a tag key beginning with aws: is refused, in any case, on every operation that sets tags", func(t *testing.T) {
		tags := map[string]string{"aws:cloudformation:stack-name": "s", "AWS:x": "v", "Aws:": "v", "ok": "aws:value"}
		want := []string{"tags.aws:cloudformation:stack-name", "tags.AWS:x", "tags.Aws:"}
		assertFields(t, (&TagResourceInput{Tags: tags}).Validate(), want...)
		_, err := (&CreateRoomInput{Tags: tags}).Validate()
		assertFields(t, err, want...)
		_, err = (&CreateLoggingConfigurationInput{Tags: tags, DestinationConfiguration: []byte(`{"s3":{"bucketName":"bucket"}}`)}).Validate()
		assertFields(t, err, want...)
	})
	t.Run("keys that merely contain aws: are accepted", func(t *testing.T) {
		assertFields(t, (&TagResourceInput{Tags: map[string]string{"my:aws:key": "v", "aws": "v", "awsx:": "v", "ivschatd:history": "1"}}).Validate())
	})

	keyTests := []struct {
		name    string
		keys    []string
		present bool
		want    []string
	}{
		{"tagKeys is required", nil, false, []string{"tagKeys"}},
		{"no keys are valid when present", []string{}, true, nil},
		{"50 keys are valid", strings.Split(strings.Repeat("k,", 49)+"k", ","), true, nil},
		{"51 keys fail", strings.Split(strings.Repeat("k,", 50)+"k", ","), true, []string{"tagKeys"}},
		{"an empty key fails", []string{"a", ""}, true, []string{"tagKeys"}},
		{"a key of 128 multi-byte characters is valid", []string{str("ö", 128)}, true, nil},
		{"a key of 129 characters fails", []string{str("k", 129)}, true, []string{"tagKeys"}},
		{"keys with spaces and unicode are valid", []string{"a b", "ключ", "🔑"}, true, nil},
	}
	for _, tt := range keyTests {
		t.Run("ValidateTagKeys: "+tt.name, func(t *testing.T) {
			assertFields(t, ValidateTagKeys(tt.keys, tt.present), tt.want...)
		})
	}

	t.Run("MergeTags overwrites and adds", func(t *testing.T) {
		got, err := MergeTags(map[string]string{"a": "1", "b": "2"}, map[string]string{"b": "3", "c": "4"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got["a"] != "1" || got["b"] != "3" || got["c"] != "4" {
			t.Fatalf("MergeTags = %v", got)
		}
	})
	t.Run("MergeTags allows 50 and refuses 51 in all", func(t *testing.T) {
		existing := tagsOf(49)
		if _, err := MergeTags(existing, map[string]string{"new": "v"}); err != nil {
			t.Fatalf("50 tags: %v", err)
		}
		// Overwriting keeps the count.
		if _, err := MergeTags(tagsOf(50), map[string]string{"k": "other"}); err != nil {
			t.Fatalf("overwrite at 50 tags: %v", err)
		}
		_, err := MergeTags(tagsOf(50), map[string]string{"new": "v"})
		assertFields(t, err, "tags")
	})
	t.Run("MergeTags leaves its inputs alone", func(t *testing.T) {
		existing := map[string]string{"a": "1"}
		_, _ = MergeTags(existing, map[string]string{"a": "2", "b": "3"})
		if len(existing) != 1 || existing["a"] != "1" {
			t.Fatalf("existing changed to %v", existing)
		}
	})
}

func TestListRequests(t *testing.T) {
	tests := []struct {
		name       string
		roomName   *string
		handlerURI *string
		logging    *string
		maxResults *int
		token      *string
		want       []string
	}{
		{"no members are valid", nil, nil, nil, nil, nil, nil},
		{"maxResults 1 is valid", nil, nil, nil, ptr(1), nil, nil},
		{"maxResults 50 is valid", nil, nil, nil, ptr(50), nil, nil},
		{"maxResults 0 fails", nil, nil, nil, ptr(0), nil, []string{"maxResults"}},
		{"maxResults 51 fails", nil, nil, nil, ptr(51), nil, []string{"maxResults"}},
		{"empty nextToken is valid", nil, nil, nil, nil, ptr(""), nil},
		{"nextToken of 1024 characters is valid", nil, nil, nil, nil, ptr(str("t", 1024)), nil},
		{"nextToken of 1024 multi-byte characters is valid", nil, nil, nil, nil, ptr(str("é", 1024)), nil},
		{"nextToken of 1025 characters fails", nil, nil, nil, nil, ptr(str("t", 1025)), []string{"nextToken"}},
		{"name filter follows the name rules", ptr("a b"), nil, nil, nil, nil, []string{"name"}},
		{"handler filter must be a Lambda ARN", nil, ptr("https://x"), nil, nil, nil, []string{"messageReviewHandlerUri"}},
		{"empty handler filter is valid", nil, ptr(""), nil, nil, nil, nil},
		{"logging filter must be a logging-configuration ARN", nil, nil, ptr(testRoomARN), nil, nil, []string{"loggingConfigurationIdentifier"}},
		{"every failing member at once", ptr(str("n", 129)), ptr("x"), ptr(""), ptr(0), ptr(str("t", 1025)),
			[]string{"name", "messageReviewHandlerUri", "loggingConfigurationIdentifier", "maxResults", "nextToken"}},
	}
	for _, tt := range tests {
		t.Run("ListRooms: "+tt.name, func(t *testing.T) {
			_, err := ParseListRoomsFilter(tt.roomName, tt.handlerURI, tt.logging, tt.maxResults, tt.token)
			assertFields(t, err, tt.want...)
		})
	}
	t.Run("ListRooms: maxResults defaults to 50", func(t *testing.T) {
		f, err := ParseListRoomsFilter(nil, nil, nil, nil, nil)
		if err != nil || f.Page.MaxResults != DefaultMaxResults || f.Page.Token != "" {
			t.Fatalf("filter = %+v, %v", f, err)
		}
	})
	t.Run("ListLoggingConfigurations: bounds maxResults and nextToken", func(t *testing.T) {
		p, err := ParseListLoggingConfigurations(nil, ptr("tok"))
		if err != nil || p.MaxResults != 50 || p.Token != "tok" {
			t.Fatalf("page = %+v, %v", p, err)
		}
		_, err = ParseListLoggingConfigurations(ptr(51), ptr(str("t", 1025)))
		assertFields(t, err, "maxResults", "nextToken")
	})
}

func TestListRoomsFilterMatch(t *testing.T) {
	room := &Room{Resource: Resource{Name: "lobby"}, MessageReviewHandler: &MessageReviewHandler{URI: validLambda, FallbackResult: "ALLOW"},
		LoggingConfigurationIdentifiers: []string{testLogARN}}
	bare := &Room{Resource: Resource{Name: "other"}}
	otherLog := "arn:aws:ivschat:us-west-2:123456789012:logging-configuration/ZZZZZZZZZZZZ"
	tests := []struct {
		name                   string
		roomName, uri, logging *string
		room                   *Room
		want                   bool
	}{
		{"no filter matches every room", nil, nil, nil, bare, true},
		{"empty name matches every room", ptr(""), nil, nil, bare, true},
		{"name matches exactly", ptr("lobby"), nil, nil, room, true},
		{"name is not a prefix match", ptr("lob"), nil, nil, room, false},
		{"handler uri matches", nil, ptr(validLambda), nil, room, true},
		{"handler uri excludes a room without handler", nil, ptr(validLambda), nil, bare, false},
		{"logging configuration in the list matches", nil, nil, ptr(testLogARN), room, true},
		{"logging configuration not in the list excludes", nil, nil, ptr(otherLog), room, false},
		{"all filters must match", ptr("lobby"), ptr(validLambda), ptr(otherLog), room, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseListRoomsFilter(tt.roomName, tt.uri, tt.logging, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tt.room); got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzDestination feeds arbitrary JSON to the destination union parser: it must not panic,
// and whatever it accepts must set exactly one member that passes the model's constraints.
func FuzzDestination(f *testing.F) {
	for _, s := range []string{
		`{"s3":{"bucketName":"my-bucket"}}`,
		`{"cloudWatchLogs":{"logGroupName":"/aws/ivs"}}`,
		`{"firehose":{"deliveryStreamName":"stream"}}`,
		`{"s3":null,"firehose":{"deliveryStreamName":"s"}}`,
		`{}`, `null`, `[]`, `{"x":{}}`, `{"s3":{"bucketName":5}}`,
		`{"s3":{"bucketName":"abc"},"firehose":{"deliveryStreamName":"s"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := CreateLoggingConfigurationInput{DestinationConfiguration: raw}
		d, err := in.Validate()
		if err != nil {
			var e *Error
			if !asError(err, &e) || e.Kind != KindValidation || len(e.Fields) == 0 {
				t.Fatalf("Validate(%q) error %v is not a validation error naming fields", raw, err)
			}
			return
		}
		n := 0
		var probe validator
		if d.S3 != nil {
			n++
			if !probe.length("b", d.S3.BucketName, 3, 63) || !bucketPattern.MatchString(d.S3.BucketName) {
				t.Fatalf("accepted bucket %q", d.S3.BucketName)
			}
		}
		if d.CloudWatchLogs != nil {
			n++
			if !probe.length("g", d.CloudWatchLogs.LogGroupName, 1, 512) || !logGroupPattern.MatchString(d.CloudWatchLogs.LogGroupName) {
				t.Fatalf("accepted log group %q", d.CloudWatchLogs.LogGroupName)
			}
		}
		if d.Firehose != nil {
			n++
			if !probe.length("s", d.Firehose.DeliveryStreamName, 1, 64) || !streamPattern.MatchString(d.Firehose.DeliveryStreamName) {
				t.Fatalf("accepted stream %q", d.Firehose.DeliveryStreamName)
			}
		}
		if n != 1 {
			t.Fatalf("Validate(%q) accepted %d members: %+v", raw, n, d)
		}
		// What is stored must read back as the same destination.
		u := CreateLoggingConfigurationInput{DestinationConfiguration: Encode(d)}
		d2, err := u.Validate()
		if err != nil || string(Encode(d2)) != string(Encode(d)) {
			t.Fatalf("re-validating %s: %+v, %v", Encode(d), d2, err)
		}
	})
}
